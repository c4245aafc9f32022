import pytest

from identity_blocks import actions
from identity_blocks.holders import Holder
from identity_blocks.models import IdentityBlock
from tests.factories import guest, make_agreement, make_block, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(make_user("admin", staff=True))
    return client


def test_it_shows_usage_per_block_and_the_shortage(admin_client):
    make_block(1)
    actions.assign_identity(guest())
    with pytest.raises(actions.NoIdentityFree):
        actions.assign_identity(guest())
    page = admin_client.get("/admin/identity_blocks/identityblock/").content.decode()
    assert "1 / 1 (full)" in page
    assert "Shortage: 1 waiting for an IMS identity" in page


def test_it_finds_an_assignment_by_impu_or_user(admin_client):
    make_block(5)
    mary = make_user("mary")
    actions.assign_identity(Holder.member(mary))
    by_impu = admin_client.get("/admin/identity_blocks/identityassignment/?q=help-0000000").content.decode()
    by_user = admin_client.get("/admin/identity_blocks/identityassignment/?q=mary").content.decode()
    assert "sip:help-0000000@help.ims.example.net" in by_impu
    assert "sip:help-0000000@help.ims.example.net" in by_user


def test_it_suspends_a_block_from_the_admin(admin_client):
    block = make_block(5)
    admin_client.post("/admin/identity_blocks/identityblock/", {"action": "suspend", "_selected_action": [block.pk]})
    block.refresh_from_db()
    assert block.status == "suspended"


def test_it_stores_a_block_password_only_as_hashes(admin_client):
    agreement = make_agreement()
    form = {
        "operator": agreement.operator_id,
        "agreement": agreement.pk,
        "name": "Enterprise",
        "kind": "sip_range",
        "pattern": "sip:staff-{n:03d}@corp.ims.example.net",
        "first": "1",
        "last": "200",
        "audience": "members",
        "status": "active",
        "starts_at_0": "2026-01-01",
        "starts_at_1": "00:00:00",
        "auth_scheme": "digest_block",
        "auth_username": "enterprise@ims.example.net",
        "password": "s3cret-Block-pass",
    }
    response = admin_client.post("/admin/identity_blocks/identityblock/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    block = IdentityBlock.objects.get(name="Enterprise")
    assert len(block.ha1_md5) == 32
    assert len(block.ha1_sha256) == 64
    assert "s3cret-Block-pass" not in str(IdentityBlock.objects.filter(pk=block.pk).values().get())
    edit_page = admin_client.get(f"/admin/identity_blocks/identityblock/{block.pk}/change/").content.decode()
    assert "s3cret-Block-pass" not in edit_page
    assert block.ha1_md5 not in edit_page


def test_it_shows_an_overlap_as_a_form_error(admin_client):
    existing = make_block(10)
    form = {
        "operator": existing.operator_id,
        "agreement": existing.agreement_id,
        "name": "Clash",
        "kind": "sip_range",
        "pattern": existing.pattern,
        "first": "5",
        "last": "20",
        "audience": "anyone",
        "status": "active",
        "starts_at_0": "2026-01-01",
        "starts_at_1": "00:00:00",
        "auth_scheme": "bearer",
    }
    page = admin_client.post("/admin/identity_blocks/identityblock/add/", form).content.decode()
    assert f"it overlaps block {existing.name!r}".replace("'", "&#x27;") in page
