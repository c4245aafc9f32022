"""The demo has no broker, so no Celery beat: `serve` runs beat's schedule on its own loop."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from identity_blocks import actions
from identity_blocks.models import IdentityAssignment
from portal import upkeep
from tests.factories import guest, make_block
from tests.support.ims import until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]


async def test_it_releases_a_departed_guests_identity_on_schedule(settings):
    settings.IDENTITY_GUEST_GRACE_SECONDS = 0
    await sync_to_async(make_block)(5)
    jane = guest()
    assignment = await sync_to_async(actions.assign_identity)(jane)
    await sync_to_async(actions.holder_left)(jane)
    stop = asyncio.Event()
    task = asyncio.create_task(upkeep.run(stop))
    await until(lambda: IdentityAssignment.objects.filter(pk=assignment.pk, released_at__isnull=False).exists())
    stop.set()
    await task
