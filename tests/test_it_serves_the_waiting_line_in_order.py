import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from identity_blocks import actions
from identity_blocks.models import IdentityAssignment
from tests.factories import guest, make_block

pytestmark = pytest.mark.django_db(transaction=True)


def _listen(holder):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(holder.group, channel)
    return lambda: async_to_sync(layer.receive)(channel)


def test_it_gives_a_freed_identity_to_the_first_in_line_and_moves_the_rest_up():
    make_block(1)
    first_comer, jane, outsider = guest(), guest(), guest()
    taken = actions.assign_identity(first_comer)
    for expected, holder in ((1, jane), (2, outsider)):
        with pytest.raises(actions.NoIdentityFree) as full:
            actions.assign_identity(holder)
        assert full.value.position == expected
    outsider_hears = _listen(outsider)
    actions.release_identity(taken.pk, reason="done")
    assert IdentityAssignment.objects.live().of(jane).exists()
    assert outsider_hears() == {"type": "identity.waiting", "position": 1}
    # A newcomer does not jump the line.
    with pytest.raises(actions.NoIdentityFree) as full:
        actions.assign_identity(guest())
    assert full.value.position == 2
