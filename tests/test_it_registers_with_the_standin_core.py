"""The demo's stand-in IMS core registers identities with Digest against the blocks' stored hashes."""

import pytest
from asgiref.sync import sync_to_async

from identity_blocks import actions
from identity_blocks.models import AuthScheme, RegistrationState
from ims.database import call as _db
from ims.identities import stored_ha1, token_identity
from ims.service import ImsSide
from ims.standin import StandInCore
from tests.factories import guest, make_agreement, make_block
from tests.support.ims import running as _running
from tests.support.ims import states as _states
from tests.support.ims import until as _until
from tests.support.services import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]


@pytest.fixture
async def standin(settings):
    settings.IMS_STANDIN, settings.IMS_STANDIN_PORT = True, free_port()
    core = await StandInCore(_db(stored_ha1), token_identity).start("127.0.0.1", settings.IMS_STANDIN_PORT)
    yield core
    core.close()


def _block(scheme):
    agreement = make_agreement(accepts_bearer_tokens=scheme == AuthScheme.BEARER)
    block = make_block(10, agreement=agreement, auth_username="helpdesk@ims.example.net", auth_scheme=scheme)
    if scheme == AuthScheme.DIGEST_BLOCK:
        actions.set_block_credentials(block.pk, username="helpdesk@ims.example.net", password="block-secret")


async def _registration_state(scheme):
    await sync_to_async(_block)(scheme)
    assignment = await sync_to_async(actions.assign_identity)(guest())
    stop, task = await _running(ImsSide())
    await _until(
        lambda: (
            _states()[assignment.impu] != RegistrationState.UNREGISTERED
            and _states()[assignment.impu] != RegistrationState.REGISTERING
        )
    )
    stop.set()
    await task
    return assignment, (await sync_to_async(_states)())[assignment.impu]


async def test_it_registers_an_identity_whose_block_has_credentials(standin):
    assignment, state = await _registration_state(AuthScheme.DIGEST_BLOCK)
    assert state == RegistrationState.REGISTERED
    assert assignment.impu.lower() in standin.location


async def test_it_refuses_an_identity_without_credentials(standin):
    # Per-identity Digest, but no credential was ever entered for this identity.
    assignment, state = await _registration_state(AuthScheme.DIGEST_IDENTITY)
    assert state == RegistrationState.FAILED
    assert assignment.impu.lower() not in standin.location


async def test_it_registers_with_a_portal_issued_bearer_token(standin):
    # RFC 8898, where the agreement says the operator accepts the portal's tokens.
    assignment, state = await _registration_state(AuthScheme.BEARER)
    assert state == RegistrationState.REGISTERED
    assert assignment.impu.lower() in standin.location


def test_it_trusts_only_tokens_it_issued_for_that_identity():
    from ims.identities import bearer_token

    token = bearer_token("sip:help-0001@ims.test")
    assert token_identity(token) == "sip:help-0001@ims.test"
    assert token_identity(token[:-2] + "xx") is None
    assert token_identity("forged") is None
