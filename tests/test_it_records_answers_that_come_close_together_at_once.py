"""No one waits on the record of the IMS core's answer to a MESSAGE (the identity's next message
leaves once the answer is in), so the IMS side gathers the answers of a moment into one batch:
at low rates each would otherwise be a hand-off to the database thread and a commit of its own.
Batches on the path of a message (posting, arrivals) do not wait."""

import asyncio
from collections.abc import Sequence

import pytest
from asgiref.sync import sync_to_async

from help_desk.chat import Post, post_messages
from help_desk.models import ChatMessage
from ims.actions import Outcome
from ims.models import MessageStatus, PagerMessage
from ims.service import ImsSide
from portal.batching import Batcher
from tests.factories import make_conversation
from tests.support.ims import running


def _statuses(ids: list[int]) -> set[str]:
    return set(PagerMessage.objects.filter(pk__in=ids).values_list("status", flat=True))


async def test_it_gathers_items_that_come_within_the_linger_into_one_batch():
    batches: list[list[int]] = []

    def write(items: list[int]) -> list[int]:
        batches.append(list(items))
        return [item * 10 for item in items]

    batcher = Batcher(write, linger=0.2)
    first = asyncio.ensure_future(batcher.submit(1))
    await asyncio.sleep(0.05)
    second = asyncio.ensure_future(batcher.submit(2))
    assert list(await asyncio.gather(first, second)) == [10, 20]
    assert await batcher.submit(3) == 30  # alone, after the batch: it waits, then goes alone
    assert batches == [[1, 2], [3]]


async def test_it_does_not_hold_back_a_batch_without_a_linger():
    batches: list[list[int]] = []

    def write(items: list[int]) -> list[int]:
        batches.append(list(items))
        return items

    batcher = Batcher(write)
    assert await batcher.submit(1) == 1
    await asyncio.sleep(0.05)
    assert await batcher.submit(2) == 2
    assert batches == [[1], [2]]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_sync_thread_connections")
async def test_it_records_the_ims_cores_answers_of_a_moment_together(settings):
    settings.HELP_CHAT_OVER_IMS = True
    request, jane, _ = await sync_to_async(make_conversation)()
    posts = [Post(request.pk, jane, "First", "j1"), Post(request.pk, jane, "Second", "j2")]
    sent = [chat.sent_as_id or 0 for chat in await sync_to_async(post_messages)(posts) if isinstance(chat, ChatMessage)]
    side = ImsSide()
    record, batches = side.outcomes.function, []

    def counted(outcomes: list[Outcome]) -> Sequence[PagerMessage | Exception]:
        batches.append(len(outcomes))
        return record(outcomes)

    side.outcomes.function = counted
    first = asyncio.ensure_future(side.outcomes.submit(Outcome(sent[0], 200, "OK")))
    await asyncio.sleep(0.01)  # the second answer comes a moment later
    await asyncio.gather(first, side.outcomes.submit(Outcome(sent[1], 200, "OK")))
    assert batches == [2]

    assert await sync_to_async(_statuses)(sent) == {MessageStatus.SENT}
    assert side.inbox.linger == 0  # an arrival is on its message's way to the other side


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_sync_thread_connections")
async def test_it_records_the_answers_it_heard_before_it_stops(settings):
    settings.HELP_CHAT_OVER_IMS = True
    settings.IMS_STANDIN = False
    request, jane, _ = await sync_to_async(make_conversation)()
    posted = await sync_to_async(post_messages)([Post(request.pk, jane, "Last words", "j1")])
    assert isinstance(posted[0], ChatMessage)
    side = ImsSide()
    stop, task = await running(side)
    sent = posted[0].sent_as_id or 0
    answer = asyncio.ensure_future(side.outcomes.submit(Outcome(sent, 200, "OK")))
    await asyncio.sleep(0)  # heard; its record lingers
    stop.set()
    await task
    answer.cancel()
    for line in side.outcomes.lines.values():  # as run_ims's loop does to what is left when it ends
        if line.draining is not None:
            line.draining.cancel()
    assert await sync_to_async(_statuses)([sent]) == {MessageStatus.SENT}
