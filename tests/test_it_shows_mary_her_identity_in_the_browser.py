"""Mary (H.4) logs in with no IMS credentials of her own and finds the identity the portal gave her."""

import subprocess

from tests.support.browser import chromium, screenshot
from tests.support.processes import manage, portal_env


def test_it_shows_mary_the_impu_assigned_to_her(demo_server, tmp_path):
    env = portal_env(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    create = "from django.contrib.auth.models import User; User.objects.create_user('mary', password='mary-pass-123')"
    subprocess.run(manage("shell", "-c", create), env=env, check=True)
    with chromium() as browser:
        page = browser.new_page()
        page.goto(demo_server + "/accounts/login/")
        page.get_by_label("User name").fill("mary")
        page.get_by_label("Password").fill("mary-pass-123")
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
