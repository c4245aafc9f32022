"""Mary (H.4) logs in with no IMS credentials of her own and finds the identity the portal gave her."""

from playwright.sync_api import expect

from tests.support.browser import chromium, screenshot


def test_it_shows_mary_the_impu_assigned_to_her(demo_server, tmp_path):
    with chromium() as browser:
        page = browser.new_page()
        page.goto(demo_server + "/accounts/login/")
        page.get_by_label("User name").fill("mary")
        page.get_by_label("Password").fill("mary-demo")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("link", name="My IMS identity").click()
        assert page.locator("#impu").inner_text() == "sip:help-0001@ims.demo.test"
        # The IMS side registers it with the demo's stand-in core in the background.
        for _ in range(50):
            if page.locator("#registration-state").inner_text() == "Registered":
                break
            page.wait_for_timeout(200)
            page.reload()
        assert page.locator("#registration-state").inner_text() == "Registered"
        assert page.locator("#impu").inner_text() == "sip:help-0001@ims.demo.test"  # sticky
        screenshot(page, "mary-identity")

        # She can dial: the pad types into the address; what is no address is refused before any call.
        for key in "+49":
            page.get_by_role("group", name="Dial pad").get_by_role("button", name=key, exact=True).click()
        expect(page.get_by_label("Call to")).to_have_value("+49")
        page.get_by_label("Call to").fill("not a number")
        page.get_by_role("button", name="Call", exact=True).click()
        refusal = "That is neither a SIP address (name@domain) nor a phone number."
        expect(page.locator("#calls-panel").get_by_role("alert")).to_have_text(refusal)
        assert page.evaluate("globalThis.portalCalls.size") == 0
