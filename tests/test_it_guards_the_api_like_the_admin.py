"""/api/operators, /api/agreements and /api/blocks follow the admin's rule: staff, with the
model's permission for what they do. What the models refuse (a delete of a row others refer to,
an agreement ending before it starts) is a 409 or a 400 saying why, never a 500; a block DELETE
deletes, or says it cannot, never answers 204 with the block still there."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from identity_blocks import actions
from identity_blocks.holders import Holder
from identity_blocks.models import BlockStatus, IdentityBlock, ServiceAgreement
from tests.factories import make_agreement, make_block, make_operator, make_user

pytestmark = pytest.mark.django_db


def _staff(username, *perms):
    user = make_user(username)
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    return user


def _agreement_payload(operator, **fields):
    return {"operator": operator.pk, "name": "Desk", "third_party": "Tax Help Ltd", "max_registrations": 10,
            "max_sessions": 5, **fields}  # fmt: skip


def test_it_refuses_staff_without_model_permissions_as_the_admin_does(client):
    agreement = make_agreement()
    block = make_block(5, agreement=agreement)
    client.force_login(_staff("mary"))
    assert client.get("/admin/identity_blocks/identityblock/").status_code == 403
    assert client.get("/api/blocks").status_code == 403
    operator = {"name": "X", "home_domain": "x.example", "realm": "x.example", "outbound_proxy": "sip:p.x.example"}
    assert client.post("/api/operators", operator, content_type="application/json").status_code == 403
    renamed = client.patch(f"/api/agreements/{agreement.pk}", {"name": "Mine"}, content_type="application/json")
    assert renamed.status_code == 403
    assert client.delete(f"/api/blocks/{block.pk}").status_code == 403
    assert client.post(f"/api/blocks/{block.pk}/expire").status_code == 403
    assert IdentityBlock.objects.get().status == BlockStatus.ACTIVE
    assert ServiceAgreement.objects.get().name == agreement.name


def test_it_lets_staff_do_what_their_permissions_allow(client):
    agreement = make_agreement()
    client.force_login(_staff("mary", "view_serviceagreement", "add_serviceagreement"))
    assert [a["name"] for a in client.get("/api/agreements").json()] == [agreement.name]
    created = client.post("/api/agreements", _agreement_payload(agreement.operator), content_type="application/json")
    assert created.status_code == 201, created.json()
    changed = client.patch(f"/api/agreements/{agreement.pk}", {"name": "Mine"}, content_type="application/json")
    assert changed.status_code == 403


def test_it_answers_409_for_an_agreement_its_blocks_still_refer_to(client):
    client.force_login(make_user("admin", staff=True))
    used = make_agreement()
    make_block(5, agreement=used)
    refused = client.delete(f"/api/agreements/{used.pk}")
    assert refused.status_code == 409
    assert "identity blocks still refer to it" in refused.json()["detail"]
    assert ServiceAgreement.objects.filter(pk=used.pk).exists()
    assert client.delete(f"/api/operators/{used.operator_id}").status_code == 409
    unused = make_agreement()
    assert client.delete(f"/api/agreements/{unused.pk}").status_code == 204
    assert not ServiceAgreement.objects.filter(pk=unused.pk).exists()


def test_it_answers_400_for_an_agreement_ending_before_it_starts(client):
    client.force_login(make_user("admin", staff=True))
    operator = make_operator()
    start = timezone.now()
    until = start - timedelta(days=1)
    backwards = _agreement_payload(operator, valid_from=start.isoformat(), valid_until=until.isoformat())
    refused = client.post("/api/agreements", backwards, content_type="application/json")
    assert refused.status_code == 400
    assert refused.json() == {"non_field_errors": ["An agreement's valid_until must be after its valid_from."]}
    forwards = {**backwards, "valid_until": (start + timedelta(days=365)).isoformat()}
    created = client.post("/api/agreements", forwards, content_type="application/json")
    assert created.status_code == 201
    pk = created.json()["id"]
    earlier = {"valid_until": (start - timedelta(days=2)).isoformat()}
    assert client.patch(f"/api/agreements/{pk}", earlier, content_type="application/json").status_code == 400
    assert ServiceAgreement.objects.get(pk=pk).valid_until == start + timedelta(days=365)


def test_it_deletes_an_unused_block_and_refuses_one_that_has_served(client):
    client.force_login(make_user("admin", staff=True))
    unused, served = make_block(5), make_block(5, pattern="sip:desk-{n:03d}@help.ims.example.net")
    assert client.delete(f"/api/blocks/{unused.pk}").status_code == 204
    assert not IdentityBlock.objects.filter(pk=unused.pk).exists()
    actions.assign_identity(Holder.member(make_user("jane")))
    refused = client.delete(f"/api/blocks/{served.pk}")
    assert refused.status_code == 409
    assert f"POST /api/blocks/{served.pk}/expire" in refused.json()["detail"]
    assert IdentityBlock.objects.get(pk=served.pk).status == BlockStatus.ACTIVE  # nothing done
    expired = client.post(f"/api/blocks/{served.pk}/expire")
    assert expired.status_code == 200
    assert expired.json()["status"] == BlockStatus.EXPIRED
    assert IdentityBlock.objects.get(pk=served.pk).status == BlockStatus.EXPIRED
