"""Blocks as operators hand them over, registered at a core whose subscribers are the identities
themselves (Kamailio refusing a Digest user that is not the identity's own, 403 "Auth user does
not own this identity"): one password for the block under each identity's own user name, and
per-identity credentials imported from a CSV file. A single block-wide user name is refused there,
and the assignment says why. Kamailio's routing proves each binding, not only the portal's rows."""

from collections import Counter

import pytest
from asgiref.sync import sync_to_async

from identity_blocks import actions, credentials
from identity_blocks.models import IdentityAssignment, IdentityBlock, IdentityCredential, Operator
from ims.service import ImsSide
from tests.factories import guest, make_agreement
from tests.support.ims import running, until
from tests.support.kamailio import DOMAIN, PASSWORD, Kamailio
from tests.support.reachability import reachable

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]


@pytest.fixture
def strict_core(tmp_path, settings):
    settings.IMS_STANDIN = False
    core = Kamailio(tmp_path, defines=("OWN_IDENTITY",)).start()
    yield core
    core.stop()


def _block(core, scheme, auth_username=""):
    operator = Operator.objects.create(
        name="Strict core", home_domain=DOMAIN, realm=DOMAIN, outbound_proxy=f"sip:127.0.0.1:{core.udp}"
    )
    return actions.save_block(
        IdentityBlock(
            operator=operator, agreement=make_agreement(operator), name="Leased", kind="sip_range",
            pattern=f"sip:help-{{n:04d}}@{DOMAIN}", first=1, last=20, auth_scheme=scheme, auth_username=auth_username,
        )
    )  # fmt: skip


def _assign_three():
    pks = []
    for _ in range(3):
        holder = guest()
        pks.append(actions.assign_identity(holder).pk)
        actions.session_opened(holder, f"test.browser.{len(pks)}")
    return pks


def _settled(pks):
    states = IdentityAssignment.objects.filter(pk__in=pks).values_list("registration_state", flat=True)
    return all(state in ("registered", "failed") for state in states)


def _rows(pks):
    assignments = IdentityAssignment.objects.filter(pk__in=pks)
    return list(assignments.values_list("impu", "registration_state", "registration_error"))


async def _register(core, pks):
    """Runs the IMS side until each assignment is settled; (states, errors, Kamailio's answers)."""
    stop, task = await running(ImsSide())
    try:
        await until(lambda: _settled(pks), timeout=15)
        rows = await sync_to_async(_rows)(pks)
        routed = await reachable(core, [impu for impu, _, _ in rows])
    finally:
        stop.set()
        await task
    return Counter(state for _, state, _ in rows), {error for _, _, error in rows}, routed


async def test_it_registers_a_shared_password_under_each_identity_s_own_user_name(strict_core):
    block = await sync_to_async(_block)(strict_core, "digest_shared")
    await sync_to_async(actions.set_block_password)(block.pk, PASSWORD)
    stored = await sync_to_async(IdentityBlock.objects.get)(pk=block.pk)
    assert PASSWORD not in stored.sealed_password  # sealed, never in clear
    pks = await sync_to_async(_assign_three)()

    states, errors, routed = await _register(strict_core, pks)
    assert states == Counter(registered=3), errors
    assert routed == Counter({200: 3})


async def test_it_registers_credentials_imported_from_csv(strict_core):
    block = await sync_to_async(_block)(strict_core, "digest_identity")
    lines = ["impu,username,password"]
    lines += [f"sip:help-{n:04d}@{DOMAIN},help-{n:04d}@{DOMAIN},{PASSWORD}" for n in (1, 2, 3)]
    rows = credentials.parse_csv("\r\n".join(lines) + "\r\n")
    assert await sync_to_async(actions.import_identity_credentials)(block.pk, rows) == 3
    assert await sync_to_async(IdentityCredential.objects.filter(block=block).count)() == 3
    pks = await sync_to_async(_assign_three)()

    states, errors, routed = await _register(strict_core, pks)
    assert states == Counter(registered=3), errors
    assert routed == Counter({200: 3})


async def test_it_says_why_a_core_refuses_one_user_name_for_the_whole_block(strict_core):
    block = await sync_to_async(_block)(strict_core, "digest_block", auth_username=f"helpdesk@{DOMAIN}")
    await sync_to_async(actions.set_block_password)(block.pk, PASSWORD)
    pks = await sync_to_async(_assign_three)()

    states, errors, routed = await _register(strict_core, pks)
    assert states == Counter(failed=3)
    assert len(errors) == 1
    assert "Auth user does not own this identity" in errors.pop()
    assert routed == Counter({404: 3})
