"""A holder's /identity/ page as a browser client of the portal: logged in, its identity
registered, and `phoneCall` (phone_call.js) in it to place and answer calls over /ws/client/."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.support.parts import Portal
from tests.support.processes import manage

CALL_JS = (Path(__file__).parent / "phone_call.js").read_text()


def identity_page(browser: Any, portal: Portal, user: str, password: str) -> Any:
    """`user` made, logged in in a fresh context of `browser`, registered; the page with phoneCall."""
    create = f"from django.contrib.auth.models import User; User.objects.create_user({user!r}, password={password!r})"
    subprocess.run(manage("shell", "-c", create), env=portal.env, check=True, capture_output=True)
    page = browser.new_context().new_page()
    page.goto(portal.base + "/accounts/login/?next=/identity/")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.locator("#registration-state", has_text="Registered").wait_for(timeout=20_000)
    page.add_script_tag(content=CALL_JS)
    return page
