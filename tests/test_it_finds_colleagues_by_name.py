"""Mary finds a colleague by part of a name (GET /api/me/colleagues?q=): first, last or user name,
any case, every word typed; a page of at most twenty, by name, in a fixed number of queries however
large the agreement. Only her colleagues: members of her agreement holding an identity, not the
outsider of another agreement, not a guest of hers, not a member whose account is disabled, not
herself. A guest, never logged in, gets nothing."""

import pytest
from django.contrib.auth.models import User

from identity_blocks import actions, directory
from identity_blocks.holders import Holder
from tests.factories import guest, make_agreement, make_block, make_user

pytestmark = pytest.mark.django_db

URL = "/api/me/colleagues"


def _member(username, first, last, block):
    user = User.objects.create(username=username, first_name=first, last_name=last)  # no password to hash
    user.impu = actions.assign_identity(Holder.member(user), blocks=[block]).impu  # type: ignore[attr-defined]
    return user


@pytest.fixture
def block():
    return make_block(60)


@pytest.fixture
def mary(client, block):
    user = _member("mary", "Mary", "Major", block)
    client.force_login(user)
    return user


def _found(client, q):
    answer = client.get(URL, {"q": q})
    assert answer.status_code == 200
    return [colleague["name"] for colleague in answer.json()["results"]]


def test_it_finds_her_colleagues_by_any_part_of_their_names(client, mary, block):
    alex = _member("aweber", "Alex", "Weber", block)
    bea = _member("bea", "", "", block)  # no full name: found and shown by her user name
    assert _found(client, "alex") == ["Alex Weber"]
    assert _found(client, "WEB") == ["Alex Weber"]
    assert _found(client, "aweb") == ["Alex Weber"]  # his user name
    assert _found(client, " weber  alex ") == ["Alex Weber"]  # every word, in any order
    assert _found(client, "alex major") == []
    assert _found(client, "") == ["Alex Weber", "bea"]
    assert client.get(URL, {"q": "bea"}).json() == {"results": [{"name": "bea", "impu": bea.impu}], "more": False}
    assert _found(client, "%") == _found(client, "_") == []  # no wildcards: they are characters
    ends = directory.colleague_at(Holder.member(mary), alex.impu.upper())
    assert ends is not None
    assert ends[1].user == alex


def test_it_finds_no_one_outside_her_agreement_nor_guests_nor_disabled_accounts(client, mary, block):
    other = make_block(5, agreement=make_agreement(), pattern="sip:other-{n:03d}@help.ims.example.net")
    outsider = _member("outsider", "Alex", "Other", other)
    actions.assign_identity(guest(), blocks=[block])
    gone = _member("gone", "Alex", "Gone", block)  # holds an identity still, but has left
    gone.is_active = False
    gone.save()
    make_user("admin", staff=True)  # administers the portal: holds no identity, no one's colleague
    assert _found(client, "") == []
    assert _found(client, "alex") == []
    assert directory.colleague_at(Holder.member(mary), gone.impu) is None
    client.force_login(outsider)
    assert _found(client, "mary") == []
    assert directory.search(guest(), "", 20) == []
    client.logout()
    assert client.get(URL, {"q": "mary"}).status_code == 403


def test_it_answers_a_page_of_twenty_by_name_in_a_fixed_number_of_queries(
    client, mary, block, django_assert_max_num_queries
):
    for n in range(25):
        _member(f"staff{n:02d}", f"Colleague {n:02d}", "Smith", block)
    with django_assert_max_num_queries(4):  # the session, its user, the search
        page = client.get(URL, {"q": "smith"}).json()
    assert [c["name"] for c in page["results"]] == [f"Colleague {n:02d} Smith" for n in range(20)]
    assert page["more"] is True
    assert client.get(URL, {"q": "colleague 24"}).json()["more"] is False
    assert client.get(URL, {"q": "x" * 151}).status_code == 400
    assert client.get(URL, {"q": "\x00"}).status_code == 400


def test_it_no_longer_lists_the_directory_in_her_page(client, mary, block):
    _member("aweber", "Alex", "Weber", block)
    page = client.get("/identity/").content.decode()
    assert "Alex Weber" not in page
    assert 'data-colleagues="/api/me/colleagues"' in page
