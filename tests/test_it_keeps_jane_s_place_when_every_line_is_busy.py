"""Every identity of the agreement in use: Jane is told her place in line, the page asks again by
itself with her choices and her guest session kept, and once the operator's agreement allows
one more registration she is connected and served, in Chromium."""

import pytest
from django.urls import reverse

from identity_blocks import actions as identity_actions
from tests.factories import guest, make_queue
from tests.support.browser import chromium
from tests.support.helpdesk_browser import advisor_desk, chat_both_ways
from tests.support.processes import demo_portal

ONE_REGISTRATION = (
    "from identity_blocks.models import ServiceAgreement; ServiceAgreement.objects.update(max_registrations=1)"
)


def _raise_the_limit(browser, base: str) -> None:
    """The operator's agreement grows, changed by the portal's admin as a person does it."""
    admin = browser.new_context().new_page()
    admin.goto(base + "/admin/identity_blocks/serviceagreement/")
    admin.get_by_label("Username").fill("admin")
    admin.get_by_label("Password").fill("admin-demo")
    admin.get_by_role("button", name="Log in").click()
    admin.get_by_role("link", name="Demo Tax Advisors: Tax help desk").click()
    admin.get_by_label("Max registrations").fill("2")
    admin.get_by_role("button", name="Save", exact=True).click()
    admin.get_by_text("was changed successfully").wait_for()


def test_jane_waits_in_line_and_is_served_when_a_line_frees(tmp_path):
    with demo_portal(tmp_path, ONE_REGISTRATION, IDENTITY_RETRY_AFTER_SECONDS="2") as base, chromium() as browser:
        desk = advisor_desk(browser, base)  # the advisor's identity is the one the agreement allows
        context = browser.new_context()
        jane = context.new_page()
        jane.goto(base + "/help/")
        jane.get_by_label("Chat").check()
        jane.get_by_role("button", name="Connect me").click()
        jane.get_by_role("heading", name="Every line is busy").wait_for()
        assert jane.get_by_text("You are number 1 in line for a connection.").is_visible()
        with jane.expect_navigation(timeout=10_000):  # the page asks again by itself
            pass
        jane.get_by_text("You are number 1 in line").wait_for()  # and she keeps her place
        _raise_the_limit(browser, base)
        jane.wait_for_url("**/help/request/*/", timeout=15_000)
        jane.wait_for_selector("body[data-live=yes]")
        chat_both_ways(jane, desk, "served-after-waiting")


@pytest.mark.django_db
def test_it_answers_a_page_that_keeps_the_guest_session(client, settings):
    settings.IDENTITY_RETRY_AFTER_SECONDS = 7
    queue = make_queue(1, allows_video=True, allows_secure_chat=True)
    identity_actions.assign_identity(guest())  # someone else holds the only identity
    answer = client.post(reverse("help-start"), {"queue": queue.slug, "mode": "video", "privacy": "secure"})
    assert answer.status_code == 200
    assert answer["Retry-After"] == "7"
    assert client.session["guest_key"]  # saved: the place in line is this session's
    page = answer.content.decode()
    assert '<input type="hidden" name="mode" value="video">' in page
    assert '<input type="hidden" name="privacy" value="secure">' in page
