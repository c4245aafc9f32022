import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from identity_blocks import actions
from identity_blocks.models import FreeIdentity, IdentityAssignment
from tests.factories import guest, make_block

pytestmark = pytest.mark.django_db


def _queries_to_assign() -> int:
    with CaptureQueriesContext(connection) as queries:
        actions.assign_identity(guest())
    return len(queries)


def test_it_creates_a_block_of_a_million_and_assigns_from_it_at_constant_cost():
    small = make_block(1_000, pattern="sip:s-{n:07d}@help.ims.example.net")
    cost_small = _queries_to_assign()
    actions.suspend_block(small.pk)
    block = make_block(1_000_000)
    assert block.size == 1_000_000
    assert FreeIdentity.objects.count() == 1  # the small block's released identity, nothing per identity
    assert _queries_to_assign() == cost_small
    assert IdentityAssignment.objects.live().get().impu == "sip:help-0000000@help.ims.example.net"
    assert block.impu(999_999) == "sip:help-0999999@help.ims.example.net"
