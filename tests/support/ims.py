"""Helpers for tests that run the IMS side in-process and watch the database."""

import asyncio

from asgiref.sync import sync_to_async

from identity_blocks import actions
from identity_blocks.models import IdentityAssignment, IdentityBlock, Operator
from tests.factories import make_agreement
from tests.support.kamailio import DOMAIN, PASSWORD


def states():
    return dict(IdentityAssignment.objects.values_list("impu", "registration_state"))


async def until(predicate, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await sync_to_async(predicate)():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not reached: {await sync_to_async(states)()}")


async def running(side):
    stop = asyncio.Event()
    task = asyncio.create_task(side.run(stop))
    return stop, task


def kamailio_block(kamailio, password=PASSWORD, pattern="sip:help-{n:04d}@" + DOMAIN):
    operator = Operator.objects.create(
        name=f"Kamailio {pattern}", home_domain=DOMAIN, realm=DOMAIN, outbound_proxy=f"sip:127.0.0.1:{kamailio.udp}"
    )
    agreement = make_agreement(operator)
    block = actions.save_block(
        IdentityBlock(
            operator=operator, agreement=agreement, name=pattern, kind="sip_range", pattern=pattern, first=1, last=100,
            auth_username="helpdesk@" + DOMAIN,
        )
    )  # fmt: skip
    actions.set_block_credentials(block.pk, username=block.auth_username, password=password)
    return block


async def guest_with_a_browser(kamailio):
    """A guest holding an identity of a Kamailio block, with one open browser session whose events
    the returned `receive` reads. Returns (holder, assignment, receive)."""
    await sync_to_async(kamailio_block)(kamailio)
    return await another_guest()


async def another_guest():
    """guest_with_a_browser's guest, on the block already made."""
    from channels.layers import get_channel_layer

    from identity_blocks.holders import Holder

    holder = Holder.guest(Holder.new_guest_key())
    assignment = await sync_to_async(actions.assign_identity)(holder)
    await sync_to_async(actions.session_opened)(holder, f"test.browser.{holder.guest_key[:8]}")
    layer = get_channel_layer()
    browser = await layer.new_channel()
    await layer.group_add(holder.group, browser)
    await layer.group_add(holder.pager_group, browser)  # as the softphone's socket does
    return holder, assignment, lambda: layer.receive(browser)


def open_conversation():
    """Jane and her advisor alex in an accepted chat of a new queue, each with a browser session
    open and the block's credentials set. Returns (the request, jane, alex's holder)."""
    from help_desk import actions as help_actions
    from help_desk.models import HelpRequest
    from identity_blocks.holders import Holder
    from tests.factories import make_advisor, make_queue

    queue = make_queue()
    actions.set_block_credentials(queue.identity_block.pk, username="helpdesk@ims.example.net", password="s3cret")
    alex = make_advisor("alex", queue, presence="available")
    jane = Holder.guest(Holder.new_guest_key())
    request = help_actions.request_help(jane, queue, "chat", False)
    help_actions.accept_request(alex, request.pk)
    advisor = Holder.member(alex.user)
    for holder, channel in ((jane, "test.jane"), (advisor, "test.alex")):
        actions.session_opened(holder, channel)
    return HelpRequest.objects.get(pk=request.pk), jane, advisor


async def call_state(receive, state):
    """The next `ims.call` event in `state` that a browser's `receive` reads (10 s at most)."""
    while True:
        event = await asyncio.wait_for(receive(), 10)
        if event["type"] == "ims.call" and event["state"] == state:
            return event


async def call_control(holder, action, **fields):
    """What the holder's browser asks of a call, as its socket passes it to the IMS side."""
    from channels.layers import get_channel_layer

    from identity_blocks.events import IMS_GROUP

    event = {"type": "ims.call.control", "action": action, "holder": holder.group, **fields}
    await get_channel_layer().group_send(IMS_GROUP, event)
