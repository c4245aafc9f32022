"""In the admin a help request is the record of a conversation: its chat messages and rating are
shown, never added, changed or deleted; of the request itself only the wrap-up note is editable (the
rest is state the help desk's actions own); an ended one may be erased, an open one not. The delete
page of an identity block counts its related rows instead of listing every past assignment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from help_desk import chat
from help_desk.models import HelpRequest, RequestStatus
from identity_blocks.models import IdentityAssignment, IdentityBlock
from tests.factories import make_block, make_conversation, make_user

pytestmark = pytest.mark.django_db(transaction=True)  # the ring that makes a conversation waits for a commit
CHANGE = "/admin/help_desk/helprequest/{}/change/"


@pytest.fixture
def admin_client(client):
    client.force_login(make_user("admin", staff=True))
    return client


def _conversation_with_a_message(settings: Any) -> HelpRequest:
    settings.HELP_CHAT_OVER_IMS = False  # stored at once, as it would be once it crossed the IMS
    help_request, jane, _ = make_conversation()
    chat.post_message(help_request.pk, jane, "Where is line 5a?", "c-1")
    return HelpRequest.objects.get(pk=help_request.pk)


def test_it_shows_the_chat_without_a_field_to_edit_it(admin_client, settings):
    help_request = _conversation_with_a_message(settings)
    page = admin_client.get(CHANGE.format(help_request.pk)).content.decode()
    assert "Where is line 5a?" in page
    assert 'name="messages-0-body"' not in page  # shown as text, not in an input
    assert 'name="messages-MAX_NUM_FORMS" value="0"' in page  # no form to add one
    assert 'name="messages-0-DELETE"' not in page
    assert 'name="status"' not in page  # the desk's state, read-only
    assert 'name="wrap_up"' in page


def test_it_saves_only_the_wrap_up_note(admin_client, settings):
    help_request = _conversation_with_a_message(settings)
    form = {"wrap_up": "pension question", "status": "closed", "customer_impu": "sip:evil@example.net"}
    form |= {"messages-TOTAL_FORMS": "0", "messages-INITIAL_FORMS": "0", "rating-TOTAL_FORMS": "0"}
    form |= {"rating-INITIAL_FORMS": "0", "wrap_up_edits-TOTAL_FORMS": "0", "wrap_up_edits-INITIAL_FORMS": "0"}
    response = admin_client.post(CHANGE.format(help_request.pk), form)
    assert response.status_code == 302
    saved = HelpRequest.objects.get(pk=help_request.pk)
    assert saved.wrap_up == "pension question"
    assert (saved.status, saved.customer_impu) == (RequestStatus.ACTIVE, help_request.customer_impu)
    assert saved.messages.get().body == "Where is line 5a?"


def test_it_adds_no_request_and_erases_only_an_ended_one(admin_client, settings):
    help_request = _conversation_with_a_message(settings)
    assert admin_client.get("/admin/help_desk/helprequest/add/").status_code == 403
    delete = f"/admin/help_desk/helprequest/{help_request.pk}/delete/"
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert HelpRequest.objects.filter(pk=help_request.pk).exists()
    HelpRequest.objects.filter(pk=help_request.pk).update(status=RequestStatus.CLOSED, closed_at=timezone.now())
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not HelpRequest.objects.filter(pk=help_request.pk).exists()


def _past_assignments(block_size: int) -> IdentityBlock:
    block = make_block(block_size)
    then = timezone.now() - timedelta(days=30)
    IdentityAssignment.objects.bulk_create(
        IdentityAssignment(
            block=block, index=n, impu=f"sip:help-{n:07d}@help.ims.example.net", guest_key=f"guest-{n}",
            sticky=False, assigned_at=then, released_at=then + timedelta(minutes=5), release_reason="guest left",
        )
        for n in range(block_size)
    )  # fmt: skip
    return block


def test_it_counts_a_block_s_past_assignments_on_its_delete_page(admin_client, django_assert_max_num_queries):
    block = _past_assignments(5_000)
    with django_assert_max_num_queries(15):
        response = admin_client.get(f"/admin/identity_blocks/identityblock/{block.pk}/delete/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "5,000 identity assignments" in page
    assert "sip:help-0004999@help.ims.example.net" not in page  # not one row per assignment
    assert len(page) < 20_000
    # They keep the block: the page says it cannot be deleted, and a POST deletes nothing.
    assert "would require deleting the following protected related objects" in page
    admin_client.post(f"/admin/identity_blocks/identityblock/{block.pk}/delete/", {"post": "yes"})
    assert IdentityAssignment.objects.filter(block=block).count() == 5_000


def test_it_counts_what_goes_with_a_block_never_used(admin_client):
    block = make_block(10)
    page = admin_client.get(f"/admin/identity_blocks/identityblock/{block.pk}/delete/").content.decode()
    assert "Are you sure you want to delete the identity block" in page
    assert f"{block.name}</a>" in page
    admin_client.post(f"/admin/identity_blocks/identityblock/{block.pk}/delete/", {"post": "yes"})
    assert not type(block).objects.filter(pk=block.pk).exists()
