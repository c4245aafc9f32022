"""A direct call lives in its sockets: one closing ends the calls it carried. When the server
process holding them dies, no socket says a word; the sweep ends what it left: a call ringing past
its time, and an answered one a side of which has no window open any more, so that colleague is
not busy for ever."""

from datetime import timedelta

import pytest
from django.utils import timezone

from identity_blocks import actions
from identity_blocks.holders import Holder
from ims import direct_calls
from ims.models import CallRecord, Direction
from tests.factories import make_block, make_user

pytestmark = pytest.mark.django_db


def _call(caller, callee, key: str, *, answered: bool, minutes_ago: float = 0.5) -> CallRecord:
    started = timezone.now() - timedelta(minutes=minutes_ago)
    return CallRecord.objects.create(
        key=key, assignment=caller, callee=callee, direction=Direction.OUTBOUND, local_impu=caller.impu,
        remote_uri=callee.impu, media="direct", started_at=started, answered_at=started if answered else None,
    )  # fmt: skip


def test_the_sweep_ends_what_a_dead_process_left():
    make_block(5)
    mary, alex = Holder.member(make_user("mary")), Holder.member(make_user("alex"))
    marys, alexs = actions.assign_identity(mary), actions.assign_identity(alex)
    actions.session_opened(mary, "daphne-2.mary")  # her window lives on another process

    _call(marys, alexs, "rang-out", answered=False, minutes_ago=2)
    _call(marys, alexs, "still-ringing", answered=False)
    _call(marys, alexs, "talking", answered=True)  # Alex's window died with its process
    assert direct_calls.end_stranded() == 2
    ended = dict(CallRecord.objects.filter(ended_at__isnull=False).values_list("key", "end_reason"))
    assert ended == {"rang-out": "no answer", "talking": "the connection dropped"}

    actions.session_opened(alex, "daphne-1.alex")  # Alex is back: he can be called again
    assert direct_calls.place(mary, alexs.impu, "again", "v=0")
    assert CallRecord.objects.get(key="again").ended_at is None  # ringing, not busy
    _call(marys, alexs, "both-here", answered=True)
    assert direct_calls.end_stranded() == 0
