"""Digest responses checked against published worked examples (RFC 7616 §3.9.1, RFC 2617 §3.5)."""

import re

import pytest

from sip.digest import AuthError, Challenge, DigestCredentials, authorization, choose

MUFASA = DigestCredentials.from_password("Mufasa", "http-auth@example.org", "Circle of Life")
NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"


def _response(header: str) -> str:
    match = re.search(r'response="([0-9a-f]+)"', header)
    assert match is not None
    return match[1]


def test_it_computes_the_rfc_7616_sha_256_response():
    challenge = Challenge.parse(
        f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
        f'nonce="{NONCE}", opaque="{OPAQUE}"'
    )
    header = authorization(challenge, MUFASA, "GET", "/dir/index.html", cnonce=CNONCE)
    assert _response(header) == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    assert f'opaque="{OPAQUE}"' in header
    assert "nc=00000001" in header


def test_it_computes_the_rfc_2617_md5_response():
    credentials = DigestCredentials.from_password("Mufasa", "testrealm@host.com", "Circle Of Life")
    challenge = Challenge.parse(
        'Digest realm="testrealm@host.com", qop="auth", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"'
    )
    header = authorization(challenge, credentials, "GET", "/dir/index.html", cnonce="0a4f113b")
    assert _response(header) == "6629fae49393a05397450978507c4ef1"


def test_it_uses_the_topmost_challenge_it_supports():
    chosen = choose(
        [
            'Digest realm="ims", nonce="a", algorithm=SHA-512-256, qop="auth"',
            'Digest realm="ims", nonce="b", algorithm=SHA-256, qop="auth"',
            'Digest realm="ims", nonce="c", algorithm=MD5, qop="auth"',
        ]
    )
    assert (chosen.nonce, chosen.algorithm) == ("b", "SHA-256")


def test_it_reads_a_stale_nonce():
    assert Challenge.parse('Digest realm="ims", nonce="n", stale=TRUE').stale


def test_it_refuses_what_it_cannot_answer():
    with pytest.raises(AuthError):
        choose(['Bearer realm="ims"', 'Digest realm="ims", nonce="n", algorithm=SHA-512-256'])
