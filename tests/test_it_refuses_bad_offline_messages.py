"""The offline form (nobody on duty) answers a 400 naming the field for what the message cannot
hold (over-long fields, NUL characters, an address that is not one) and keeps nothing of it."""

import pytest

from help_desk.models import OfflineMessage
from tests.factories import make_queue

pytestmark = pytest.mark.django_db


def _form(queue, **fields):
    return {"queue": queue.slug, "name": "Jane", "email": "jane@example.com", "message": "Call me about 5a", **fields}


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"name": "J" * 101}, "Name: Ensure this value has at most 100 characters (it has 101)."),
        ({"message": "m" * 5001}, "Message: Ensure this value has at most 5000 characters (it has 5001)."),
        ({"name": "Ja\x00ne"}, "Name: Null characters are not allowed."),
        ({"message": "line\x00 5a"}, "Message: Null characters are not allowed."),
        ({"email": "jane@" + "x" * 300 + ".example"}, "Email: Enter a valid email address."),
        ({"email": ""}, "Email: This field is required."),
    ],
)
def test_it_names_the_field_it_refuses(client, fields, problem):
    queue = make_queue()
    response = client.post("/help/offline/", _form(queue, **fields))
    assert response.status_code == 400
    assert problem in response.content.decode().replace("&#x27;", "'")
    assert not OfflineMessage.objects.exists()


def test_it_keeps_a_proper_message_and_refuses_a_queue_no_slug_can_name(client):
    queue = make_queue()
    assert client.post("/help/offline/", _form(queue, message="m" * 5000)).status_code == 200
    assert len(OfflineMessage.objects.get().message) == 5000
    assert client.post("/help/offline/", {**_form(queue), "queue": "tax\x00"}).status_code == 404
    assert client.get("/help/?queue=tax%00").status_code == 404
