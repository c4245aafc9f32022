"""The advisor's wrap-up note is written when the conversation closes and may be corrected later in
the admin: every version stays, with who wrote it and when, shown read-only on the conversation's
admin page."""

from __future__ import annotations

import re

import pytest

from help_desk import actions
from help_desk.models import HelpRequest, WrapUpEdit
from tests.factories import make_conversation, make_user

pytestmark = pytest.mark.django_db(transaction=True)  # the ring that makes a conversation waits for a commit
CHANGE = "/admin/help_desk/helprequest/{}/change/"


def _edit(client, request_id: int, note: str) -> None:
    form = {"wrap_up": note, "messages-TOTAL_FORMS": "0", "messages-INITIAL_FORMS": "0"}
    form |= {"rating-TOTAL_FORMS": "0", "rating-INITIAL_FORMS": "0"}
    form |= {"wrap_up_edits-TOTAL_FORMS": "0", "wrap_up_edits-INITIAL_FORMS": "0"}
    assert client.post(CHANGE.format(request_id), form).status_code == 302


def test_it_keeps_who_wrote_each_version_of_the_note_and_when(client):
    help_request, *_ = make_conversation()
    actions.close_request(help_request.pk, advisor=help_request.advisor, wrap_up="pension question")
    client.force_login(make_user("mary", staff=True))
    _edit(client, help_request.pk, "pension question; sent form 5a")
    _edit(client, help_request.pk, "pension question; sent form 5a")  # saved again unchanged: no version
    versions = list(WrapUpEdit.objects.filter(request=help_request).values_list("text", "edited_by__username"))
    assert versions == [("pension question", "alex"), ("pension question; sent form 5a", "mary")]
    assert HelpRequest.objects.get(pk=help_request.pk).wrap_up == "pension question; sent form 5a"
    page = client.get(CHANGE.format(help_request.pk)).content.decode()
    history = page[page.index("History of the wrap-up note") :]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", history, re.S)
    assert any("alex" in row and ">pension question<" in row for row in rows)
    assert any("mary" in row and ">pension question; sent form 5a<" in row for row in rows)
    assert 'name="wrap_up_edits-0-text"' not in page  # shown as text, never edited
    assert 'name="wrap_up_edits-0-DELETE"' not in page
    assert 'name="wrap_up_edits-MAX_NUM_FORMS" value="0"' in page
