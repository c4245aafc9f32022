"""Once a conversation has ended, the customer rates it (1 to 5, a comment if she likes), which the
advisor's desk and the admin show, and has its transcript e-mailed to an address she gives: the
unsecured chat with times and names, and where the secure line was, that it was not stored. A few
e-mails an hour per conversation at most; nobody else rates or mails it."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from help_desk import actions
from help_desk.models import ChatMessage, HelpRequest, Rating, SecureSegment
from help_desk.routing_actions import route_queue
from tests.factories import make_advisor, make_queue, make_user
from tests.support.browser import chromium, screenshot
from tests.support.helpdesk_browser import advisor_desk, chat_both_ways, close_and_rate, jane_asks_for_chat
from tests.support.mail import file_backend, mails
from tests.support.processes import demo_portal


def _ended_conversation(client) -> HelpRequest:
    """Jane's chat (her browser is `client`), two messages and a secure stretch, then closed."""
    queue = make_queue(allows_secure_chat=True)
    advisor = make_advisor("alex", queue, presence="available")
    advisor.user.first_name, advisor.user.last_name = "Alex", "Weber"
    advisor.user.save()
    client.post("/help/start/", {"queue": queue.slug, "mode": "chat"})
    route_queue(queue.pk)
    request = actions.accept_request(advisor, HelpRequest.objects.get().pk)
    ChatMessage.objects.create(request=request, seq=1, from_advisor=False, body="Where is line 5a?", client_id="j1")
    SecureSegment.objects.create(
        request=request, asked_by_advisor=False, customer_impu="a", advisor_impu="b", opened_by_customer=True,
        opened_by_advisor=True,
    )  # fmt: skip
    ChatMessage.objects.create(request=request, seq=2, from_advisor=True, body="On page two.", client_id="a1")
    return actions.close_request(request.pk, advisor=advisor, wrap_up="pension question")


@pytest.mark.django_db
def test_it_keeps_her_rating_and_mails_what_was_said(client, admin_client, django_capture_on_commit_callbacks):
    request = _ended_conversation(client)
    page = client.get(f"/help/request/{request.pk}/").content.decode()
    assert "How did we do?" in page
    assert "E-mail me the transcript" in page
    response = client.post(f"/help/request/{request.pk}/rate/", {"score": "4", "comment": "Quick and clear"})
    assert response.status_code == 302
    assert (Rating.objects.get(request=request).score, Rating.objects.get().comment) == (4, "Quick and clear")
    assert "You rated this conversation 4 of 5" in client.get(f"/help/request/{request.pk}/").content.decode()
    admin_page = admin_client.get(f"/admin/help_desk/helprequest/{request.pk}/change/").content.decode()
    assert "Quick and clear" in admin_page

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/help/request/{request.pk}/transcript/mail/", {"email": "jane@example.com"})
    (sent,) = mail.outbox
    assert sent.to == ["jane@example.com"]
    lines = sent.body.splitlines()
    assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] You: Where is line 5a\?", lines[2])
    assert "Secure chat" in lines[3]
    assert "never stored it" in lines[3]
    assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] Alex Weber: On page two\.", lines[4])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "problem"),
    [({"score": "6"}, "Your rating: Select a valid choice."), ({"score": ""}, "Your rating: This field is required.")],
)
def test_it_refuses_a_rating_out_of_range(client, fields, problem):
    request = _ended_conversation(client)
    response = client.post(f"/help/request/{request.pk}/rate/", fields)
    assert response.status_code == 400
    assert problem in response.content.decode()
    assert not Rating.objects.exists()


@pytest.mark.django_db
def test_it_mails_a_few_times_an_hour_and_only_for_her(client, settings, django_capture_on_commit_callbacks):
    settings.HELP_TRANSCRIPT_MAILS_PER_HOUR = 2
    request = _ended_conversation(client)
    url = f"/help/request/{request.pk}/transcript/mail/"
    with django_capture_on_commit_callbacks(execute=True):
        answers = [client.post(url, {"email": "jane@example.com"}).status_code for _ in range(3)]
    assert answers == [302, 302, 429]
    assert len(mail.outbox) == 2
    assert client.post(url, {"email": "not-an-email@"}).status_code == 400
    client.force_login(make_user("outsider"))
    assert client.post(url, {"email": "outsider@example.com"}).status_code == 403
    assert client.post(f"/help/request/{request.pk}/rate/", {"score": "1"}).status_code == 403
    assert len(mail.outbox) == 2
    assert not Rating.objects.exists()


@pytest.mark.django_db
def test_it_asks_nothing_before_the_conversation_ended(client):
    queue = make_queue()
    advisor = make_advisor("alex", queue, presence="available")
    client.post("/help/start/", {"queue": queue.slug, "mode": "chat"})
    route_queue(queue.pk)
    request = actions.accept_request(advisor, HelpRequest.objects.get().pk)
    assert client.post(f"/help/request/{request.pk}/rate/", {"score": "5"}).status_code == 400
    assert client.post(f"/help/request/{request.pk}/transcript/mail/", {"email": "j@example.com"}).status_code == 400


def test_jane_rates_the_chat_and_gets_its_transcript_by_mail(tmp_path):
    outbox = tmp_path / "mail"
    with demo_portal(tmp_path, **file_backend(outbox)) as base, chromium() as browser:
        desk = advisor_desk(browser, base)
        jane = jane_asks_for_chat(browser, base)
        chat_both_ways(jane, desk, "rating")
        pane = desk.locator(".conversation").last
        close_and_rate(jane, pane)
        pane.get_by_text("Customer's rating: 4 of 5 · “Quick and clear”").wait_for()
        jane.get_by_label("Your e-mail address").fill("jane@example.com")
        jane.get_by_role("button", name="E-mail me the transcript").click()
        jane.get_by_text("The transcript is on its way to jane@example.com.").wait_for()
        screenshot(jane, "rating-jane")
        screenshot(desk, "rating-advisor")
    (sent,) = mails(outbox)
    assert sent["To"] == "jane@example.com"
    body = sent.get_content()
    assert "You: Where do I enter my pension? <b>bold?</b>" in body
    assert "Alex Weber: Line 5a, on the second page." in body
