from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

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


def test_it_releases_an_identity_served_to_a_guest_who_never_came_back(settings):
    settings.IDENTITY_GUEST_GRACE_SECONDS = 300
    make_block(1)
    first_comer, gone = guest(), guest()
    taken = actions.assign_identity(first_comer)
    with pytest.raises(actions.NoIdentityFree):
        actions.assign_identity(gone)  # she waits, then closes the page
    actions.release_identity(taken.pk, reason="done")
    served = IdentityAssignment.objects.live().of(gone).get()
    assert served.release_after is not None
    IdentityAssignment.objects.filter(pk=served.pk).update(release_after=timezone.now() - timedelta(seconds=1))
    assert actions.release_due_identities() == 1
    assert actions.assign_identity(guest()).index == served.index


def test_it_keeps_the_identity_of_a_guest_served_who_comes_back():
    make_block(1)
    first_comer, jane = guest(), guest()
    taken = actions.assign_identity(first_comer)
    with pytest.raises(actions.NoIdentityFree):
        actions.assign_identity(jane)
    actions.release_identity(taken.pk, reason="done")
    assert actions.assign_identity(jane).release_after is None  # she asks again: it stays hers
