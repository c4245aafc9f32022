"""Messages left on the help page while nobody was on duty (or the queue was closed) land in the
desk's inbox, with the count still unanswered (which an open desk follows live); an advisor opens
one (name, e-mail, message), writes a reply that goes by e-mail (a Celery task, Django's e-mail
backend), and the message is marked answered, by them. A message is answered once; advisors see
only their queues' messages."""

from __future__ import annotations

import pytest
from django.core import mail

from help_desk import actions
from help_desk.models import OfflineMessage, Queue
from tests.factories import make_advisor, make_queue, make_user
from tests.support.axe import violations
from tests.support.browser import chromium, screenshot
from tests.support.helpdesk_browser import advisor_desk
from tests.support.mail import file_backend, mails
from tests.support.processes import demo_portal


def _left(queue: Queue) -> OfflineMessage:
    return actions.leave_offline_message(queue, "Jane Doe", "jane@example.com", "Where does my pension go?\nThanks")


@pytest.mark.django_db
def test_a_reply_is_mailed_once_and_the_message_is_answered_by_its_advisor(client, django_capture_on_commit_callbacks):
    queue = make_queue()
    alex, bea = make_advisor("alex", queue), make_advisor("bea", queue)
    left = _left(queue)
    client.force_login(alex.user)
    assert "1 unanswered" in client.get("/desk/inbox/").content.decode()
    url = f"/desk/inbox/{left.pk}/"
    assert client.post(url, {"reply": "   "}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"reply": "Line 5a."}).status_code == 302
    (sent,) = mail.outbox
    assert sent.to == ["jane@example.com"]
    assert sent.body.startswith("Line 5a.\n")
    assert "> Where does my pension go?\n> Thanks" in sent.body
    left.refresh_from_db()
    assert (left.reply, left.answered_by) == ("Line 5a.", alex.user)
    assert "0 unanswered" in client.get("/desk/inbox/").content.decode()
    # Bea's answer comes second: she is told, and nothing more is mailed.
    with pytest.raises(actions.HelpRefused, match="answered already"):
        actions.answer_offline_message(bea, left.pk, "Line 5b.")
    client.force_login(bea.user)
    response = client.post(url, {"reply": "Line 5b."})
    assert response.status_code == 400
    assert "answered already" in response.content.decode()
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_only_the_queue_s_advisors_see_its_messages(client):
    queue = make_queue()
    left = _left(queue)
    other = Queue.objects.create(
        name="Other", slug="other", agreement=queue.agreement, identity_block=queue.identity_block
    )
    client.force_login(make_advisor("olga", other).user)
    assert client.get(f"/desk/inbox/{left.pk}/").status_code == 404
    assert "Jane Doe" not in client.get("/desk/inbox/").content.decode()
    client.force_login(make_user("outsider"))
    assert client.get("/desk/inbox/").status_code == 403
    assert client.post(f"/desk/inbox/{left.pk}/", {"reply": "hi"}).status_code == 403
    client.logout()
    assert client.get("/desk/inbox/").status_code == 302  # to the log-in page
    assert OfflineMessage.objects.get().answered_at is None


def test_an_advisor_answers_jane_s_message_from_the_inbox_by_mail(tmp_path):
    outbox = tmp_path / "mail"
    with demo_portal(tmp_path, **file_backend(outbox)) as base, chromium() as browser:
        desk = advisor_desk(browser, base)
        desk.get_by_label("Presence").select_option("away")  # nobody on duty: the help page takes messages
        desk.get_by_role("link", name="Inbox (0 unanswered)").wait_for()
        jane = browser.new_context().new_page()
        jane.goto(base + "/help/")
        jane.get_by_text("No advisor of TaxEasy help is on duty right now.").wait_for()
        jane.get_by_label("Your name").fill("Jane Doe")
        jane.get_by_label("E-mail").fill("jane@example.com")
        jane.get_by_label("Message").fill("Where does my pension go?")
        jane.get_by_role("button", name="Leave a message").click()
        jane.get_by_text("Your message to TaxEasy help is with us").wait_for()
        desk.get_by_role("link", name="Inbox (1 unanswered)").click()
        desk.get_by_text("1 unanswered", exact=True).wait_for()
        desk.get_by_role("link", name="Jane Doe").click()
        desk.get_by_role("heading", name="Message from Jane Doe").wait_for()
        found = violations(desk)
        assert desk.get_by_text("jane@example.com").first.is_visible()
        assert desk.get_by_text("Where does my pension go?").is_visible()
        desk.get_by_label("Your reply").fill("On line 5a of your return.")
        desk.get_by_role("button", name="Send reply").click()
        desk.get_by_text("Your reply to Jane Doe is on its way to jane@example.com.").wait_for()
        desk.get_by_text("0 unanswered", exact=True).wait_for()
        desk.get_by_role("cell", name="Answered by Alex Weber").wait_for()
        screenshot(desk, "inbox-answered")
        assert [*found, *violations(desk)] == []
    (sent,) = mails(outbox)
    assert sent["To"] == "jane@example.com"
    assert sent["Subject"] == "TaxEasy help: a reply to your message"
    body = sent.get_content()
    assert body.startswith("On line 5a of your return.")
    assert "> Where does my pension go?" in body
