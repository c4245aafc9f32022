"""Per-identity Digest credentials arrive as operators hand them over: a CSV file of
impu,username,password, uploaded in the admin or posted to the API (or a JSON list). All lines or
none: a file with one bad line names it and stores nothing. Passwords are kept only as hashes."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from identity_blocks.models import IdentityCredential
from tests.factories import make_block, make_user

pytestmark = pytest.mark.django_db

IMPORT = "/admin/identity_blocks/identitycredential/import/"


def _csv(*rows, header="impu,username,password"):
    return "\r\n".join([header, *(",".join(row) for row in rows)]) + "\r\n"


def _rows(block, numbers, secret="pw-{n}"):  # noqa: S107
    return [(block.impu(n), f"user-{n}@ims.example.net", secret.format(n=n)) for n in numbers]


def _stored(block):
    return dict(IdentityCredential.objects.filter(block=block).values_list("impu", "username"))


@pytest.fixture
def admin_client(client):
    client.force_login(make_user("admin", staff=True))
    return client


def test_it_imports_a_csv_file_in_the_admin(admin_client):
    block = make_block(10, auth_scheme="digest_identity")
    listing = admin_client.get("/admin/identity_blocks/identitycredential/").content.decode()
    assert IMPORT in listing  # the changelist links to the import

    upload = SimpleUploadedFile("credentials.csv", _csv(*_rows(block, range(3))).encode(), "text/csv")
    response = admin_client.post(IMPORT, {"block": block.pk, "file": upload}, follow=True)
    assert "Imported the credentials of 3 identities" in response.content.decode()
    assert _stored(block) == {block.impu(n): f"user-{n}@ims.example.net" for n in range(3)}
    one = IdentityCredential.objects.get(block=block, impu=block.impu(1))
    a1 = f"user-1@ims.example.net:{block.operator.realm}:pw-1".encode()
    assert one.ha1_md5 == hashlib.md5(a1).hexdigest()  # noqa: S324
    assert "pw-1" not in str(IdentityCredential.objects.filter(pk=one.pk).values().get())


def test_it_names_each_bad_line_and_imports_nothing(admin_client):
    block = make_block(10, auth_scheme="digest_identity")
    good = _rows(block, [0])
    bad = [("sip:stranger@elsewhere.example", "x", "y"), (block.impu(2), "", "pw"), good[0]]
    upload = SimpleUploadedFile("credentials.csv", _csv(*good, *bad).encode(), "text/csv")
    page = admin_client.post(IMPORT, {"block": block.pk, "file": upload}).content.decode()
    assert "line 3: sip:stranger@elsewhere.example is not an identity of block" in page
    assert "line 4: a user name and a password are needed" in page
    assert f"line 5: {block.impu(0)} appears twice" in page
    assert _stored(block) == {}

    wrong_header = SimpleUploadedFile("c.csv", _csv(*good, header="who,name,secret").encode(), "text/csv")
    page = admin_client.post(IMPORT, {"block": block.pk, "file": wrong_header}).content.decode()
    assert "the header must be impu,username,password" in page
    binary = SimpleUploadedFile("c.csv", b"\xff\xfe\x00junk", "text/csv")
    assert "not UTF-8 text" in admin_client.post(IMPORT, {"block": block.pk, "file": binary}).content.decode()


def test_it_imports_over_the_api_as_csv_or_json(admin_client):
    block = make_block(10, auth_scheme="digest_identity")
    url = f"/api/blocks/{block.pk}/credentials"
    response = admin_client.post(url, _csv(*_rows(block, range(2))), content_type="text/csv")
    assert response.status_code == 200, response.content
    assert response.json() == {"imported": 2}

    listed = [{"impu": impu, "username": user, "password": pw} for impu, user, pw in _rows(block, [1, 5], "new-{n}")]
    response = admin_client.post(url, listed, content_type="application/json")
    assert response.json() == {"imported": 2}
    assert set(_stored(block)) == {block.impu(n) for n in (0, 1, 5)}  # 1 replaced, 5 added

    refused = admin_client.post(url, _csv(("sip:nobody@x.example", "u", "p")), content_type="text/csv")
    assert refused.status_code == 400
    assert refused.json()["errors"] == [f"line 2: sip:nobody@x.example is not an identity of block {block.name!r}"]
    for odd in ("impu,username,password\r\nsip:a@b\rx,u,p\r\n", f"impu,username,password\n{block.impu(3)},u\x00,p\n"):
        assert admin_client.post(url, odd, content_type="text/csv").status_code == 400  # never a 500
    malformed = admin_client.post(url, [{"impu": block.impu(3)}], content_type="application/json")
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0].startswith("line 1:")
    assert len(_stored(block)) == 3


def test_it_keeps_the_import_from_everyone_else(client):
    block = make_block(10, auth_scheme="digest_identity")
    client.force_login(make_user("outsider"))
    assert client.post(f"/api/blocks/{block.pk}/credentials", _csv(), content_type="text/csv").status_code == 403
    assert client.get(IMPORT).status_code == 302  # to the admin's log-in
