"""Helpers for tests that run the IMS side in-process and watch the database."""

import asyncio

from asgiref.sync import sync_to_async

from identity_blocks.models import IdentityAssignment


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
