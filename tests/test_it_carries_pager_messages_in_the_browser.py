"""Two people message each other from their IMS identities in the browser: each MESSAGE leaves
the IMS side, crosses the (stand-in) IMS core, comes back to the IMS side and is stored, then
shows on the other screen live."""

from tests.support.browser import chromium, screenshot


def _log_in(browser, base, username, password):
    page = browser.new_context().new_page()
    page.goto(base + "/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.goto(base + "/identity/")
    page.wait_for_selector("body[data-live=yes]")
    return page


def _registered(page):
    for _ in range(50):
        if page.locator("#registration-state").inner_text() == "Registered":
            return
        page.wait_for_timeout(200)
    raise AssertionError("the identity did not register")


def _send(page, to, text):
    page.get_by_label("To", exact=True).fill(to)
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()


def test_it_carries_messages_both_ways_through_the_ims(demo_server, tmp_path):
    with chromium() as browser:
        mary = _log_in(browser, demo_server, "mary", "mary-demo")
        advisor = _log_in(browser, demo_server, "advisor", "advisor-demo")
        _registered(mary)
        _registered(advisor)
        marys_impu, advisors_impu = mary.locator("#impu").inner_text(), advisor.locator("#impu").inner_text()

        _send(mary, advisors_impu, "Hello <b>advisor</b>, where is line 5a?")
        incoming = advisor.locator(".message.in").last
        incoming.wait_for()
        assert incoming.locator(".body").inner_text() == "Hello <b>advisor</b>, where is line 5a?"  # escaped
        assert incoming.locator(".who").inner_text() == f"from {marys_impu}"
        mary.locator(".message.out .status", has_text="sent").wait_for()

        _send(advisor, marys_impu, "Second page, top left.")
        mary.locator(".message.in .body", has_text="Second page, top left.").wait_for()
        history = mary.get_by_role("navigation", name="History")
        assert history.get_by_label("1 unread").inner_text() == "1"  # counted as it arrived
        history.get_by_role("link", name="Messages").click()
        mary.get_by_role("link", name=advisors_impu).click()
        mary.get_by_text("Second page, top left.").wait_for()
        mary.goto(demo_server + "/identity/")
        mary.wait_for_selector("body[data-live=yes]")
        assert mary.get_by_role("navigation", name="History").get_by_label("1 unread").count() == 0  # read there
        screenshot(mary, "mary-messages")
        screenshot(advisor, "advisor-messages")

        _send(mary, "not a uri", "lost?")
        mary.locator("#message-error", has_text="not a valid SIP or tel URI").wait_for()
