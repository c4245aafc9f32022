from typing import Any

import pytest

from identity_blocks import actions
from identity_blocks.models import BlockKind, IdentityBlock
from tests.factories import make_agreement, make_block

pytestmark = pytest.mark.django_db


def _block(**fields):
    agreement = make_agreement()
    defaults: dict[str, Any] = dict(
        name="New", kind=BlockKind.SIP_RANGE, pattern="sip:u{n}@help.ims.example.net", first=1, last=10
    )
    return IdentityBlock(operator=agreement.operator, agreement=agreement, **{**defaults, **fields})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (dict(first=10, last=1), "empty or inverted"),
        (dict(first=None), "first and last"),
        (dict(pattern="sip:help@help.ims.example.net"), "exactly one {n}"),
        (dict(pattern="sip:u{n}{n}@help.ims.example.net"), "exactly one {n}"),
        (dict(pattern="sip:u{n:02d}@help.ims.example.net", last=100), "more digits than the pattern's width"),
        (dict(pattern="sip:u {n}@help.ims.example.net"), "not a valid identity"),
        (dict(pattern="sip:u@h{n}.ims.example.net"), "user part"),
        (dict(pattern="sip:u{n}@help.other-operator.com"), "outside the operator's domain"),
        (dict(kind=BlockKind.TEL_RANGE, pattern="", first=0, last=5), "E.164"),
        (dict(kind=BlockKind.TEL_RANGE, pattern="", first=1, last=10**16), "E.164"),
        (dict(kind=BlockKind.LIST, identities="sip:a@ims.example.net\nnot-a-uri"), "not a valid identity"),
        (dict(kind=BlockKind.LIST, identities="sip:a@ims.example.net\nsip:a@ims.example.net"), "twice"),
        (dict(kind=BlockKind.LIST, identities="  \n"), "names no identity"),
        (dict(kind=BlockKind.SUBDOMAIN, domain="web.elsewhere.org", last=100), "outside the operator's domain"),
    ],
)
def test_it_refuses_a_bad_definition_with_a_clear_reason(fields, message):
    with pytest.raises(actions.InvalidDefinition, match=message.replace("{", r"\{")):
        actions.save_block(_block(**fields))


def test_it_refuses_overlapping_blocks():
    existing = make_block(100)  # sip:help-0000000..0000099@help.ims.example.net
    overlapping: list[dict[str, Any]] = [
        dict(pattern="sip:help-00000{n:02d}@help.ims.example.net", first=50, last=60),
        dict(kind=BlockKind.LIST, identities="sip:help-0000042@help.ims.example.net"),
        dict(kind=BlockKind.SUBDOMAIN, domain="help.ims.example.net", last=10),
    ]
    for fields in overlapping:
        with pytest.raises(actions.InvalidDefinition, match=existing.name):
            actions.save_block(_block(**fields))


def test_it_accepts_a_neighbouring_range_and_a_reused_range_after_expiry():
    existing = make_block(100)
    actions.save_block(_block(pattern="sip:help-{n:07d}@help.ims.example.net", first=100, last=199))
    actions.expire_block(existing.pk)
    actions.save_block(_block(pattern="sip:help-{n:07d}@help.ims.example.net", first=0, last=99))


def test_it_freezes_the_definition_once_identities_are_out():
    from tests.factories import guest

    block = make_block(10)
    actions.assign_identity(guest())
    block.last = 20
    with pytest.raises(actions.InvalidDefinition, match="can no longer change"):
        actions.save_block(block)


def test_it_accepts_every_kind_of_block():
    tel = actions.save_block(_block(kind=BlockKind.TEL_RANGE, pattern="", first=4930123400, last=4930123499))
    assert (tel.size, tel.impu(0)) == (100, "tel:+4930123400")
    sub = actions.save_block(_block(kind=BlockKind.SUBDOMAIN, pattern="", domain="web.ims.example.net", last=1000))
    assert (sub.size, sub.impu(999)) == (1000, "sip:web-1000@web.ims.example.net")
    listed = actions.save_block(_block(kind=BlockKind.LIST, identities="sip:boss@ims.example.net\ntel:+4930999"))
    assert (listed.size, listed.impu(1)) == (2, "tel:+4930999")
