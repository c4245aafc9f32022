import pytest

from identity_blocks import actions
from identity_blocks.holders import Holder
from tests.factories import make_block, make_user

pytestmark = pytest.mark.django_db


def test_it_gives_mary_the_same_impu_every_time():
    make_block(10)
    mary = Holder.member(make_user("mary"))
    first = actions.assign_identity(mary)
    assert first.sticky
    assert actions.assign_identity(mary).pk == first.pk


def test_it_gives_mary_her_old_impu_back_after_a_release():
    make_block(10)
    mary, advisor = Holder.member(make_user("mary")), Holder.member(make_user("advisor"))
    marys = actions.assign_identity(mary)
    actions.release_identity(actions.assign_identity(advisor).pk, reason="admin")
    actions.release_identity(marys.pk, reason="admin")
    # The advisor's index was freed first, so first-in-first-out alone would hand Mary that one.
    assert actions.assign_identity(mary).impu == marys.impu


def test_it_hands_out_released_identities_again_before_fresh_ones():
    block = make_block(10)
    jane = Holder.guest(Holder.new_guest_key())
    taken = actions.assign_identity(jane)
    actions.release_identity(taken.pk, reason="done")
    again = actions.assign_identity(Holder.guest(Holder.new_guest_key()))
    assert again.index == taken.index
    block.refresh_from_db()
    assert block.next_index == 1
