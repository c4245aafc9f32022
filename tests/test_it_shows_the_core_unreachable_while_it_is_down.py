"""While Kamailio, the IMS core, is stopped, Mary's identity page and the advisor's desk say the core
is unreachable instead of "Registered", live and after a reload; once it is back, and has every
binding again, they say registered."""

from playwright.sync_api import expect

from tests.support.browser import chromium, screenshot
from tests.support.kamailio import PASSWORD
from tests.support.processes import demo_portal

# The demo's block, its password Kamailio's, reached over TCP: the connection closes with the core.
SETUP = (
    "from identity_blocks.models import IdentityBlock as B, Operator; from identity_blocks import actions as a; "
    "Operator.objects.update(outbound_proxy='sip:127.0.0.1:{port};transport=tcp'); "
    f"b = B.objects.get(); a.set_block_credentials(b.pk, username=b.auth_username, password='{PASSWORD}')"
)


def _log_in(browser, base, username, password, path):
    page = browser.new_context().new_page()
    page.goto(base + "/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.goto(base + path)
    page.wait_for_selector("body[data-live=yes]")
    return page


def test_it_says_the_core_is_unreachable_until_it_is_back(kamailio, tmp_path):
    with demo_portal(tmp_path, SETUP.format(port=kamailio.udp), IMS_STANDIN="false") as base, chromium() as browser:
        mary = _log_in(browser, base, "mary", "mary-demo", "/identity/")
        desk = _log_in(browser, base, "advisor", "advisor-demo", "/desk/")
        marys, desks = mary.locator("#registration-state"), desk.locator("#registration-state")
        expect(marys).to_have_text("Registered", timeout=20_000)
        expect(desks).to_have_text("registered", timeout=20_000)

        kamailio.stop()
        expect(marys).to_have_text("The core is unreachable", timeout=10_000)  # live, over the page's socket
        expect(desks).to_have_text("the core is unreachable", timeout=10_000)
        mary.reload()
        expect(marys).to_have_text("The core is unreachable")  # and as the server renders it
        screenshot(mary, "mary-core-unreachable")

        kamailio.start()
        expect(marys).to_have_text("Registered", timeout=10_000)
        expect(desks).to_have_text("registered", timeout=10_000)
        mary.reload()
        expect(marys).to_have_text("Registered")  # a REGISTER the restarted core accepted
