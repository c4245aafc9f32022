"""What the IMS side needs to register an assignment, read from its block, operator and settings."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core import signing

from identity_blocks import credentials
from identity_blocks.models import AuthScheme, IdentityAssignment, IdentityBlock, IdentityCredential, RegistrationState
from ims.registration import IdentityConfig
from sip.digest import DigestCredentials
from sip.transport import Peer
from sip.uri import InvalidUri, SipUri, parse_uri

log = logging.getLogger(__name__)
_DEFAULT_PORTS = {"UDP": 5060, "TCP": 5060, "TLS": 5061, "WS": 80, "WSS": 443}
TOKEN_SALT = "ims.bearer"  # noqa: S105 (a signing salt, not a secret)


def proxy_peer(uri: str) -> Peer:
    """sip:pcscf.op.net:5060;transport=tcp -> Peer("TCP", "pcscf.op.net", 5060)."""
    parsed = parse_uri(uri)
    if not isinstance(parsed, SipUri):
        raise InvalidUri(f"{uri}: an outbound proxy is a SIP URI")
    transport = str(parsed.params.get("transport") or ("tls" if parsed.scheme == "sips" else "udp")).upper()
    if transport not in _DEFAULT_PORTS:
        raise InvalidUri(f"{uri}: unknown transport {transport}")
    return Peer(transport, parsed.host, parsed.port or _DEFAULT_PORTS[transport])


def _proxy(operator_proxy: str) -> str:
    """The stand-in core replaces every operator's while it runs; IMS_OUTBOUND_PROXY overrides all."""
    if settings.IMS_STANDIN:
        return f"sip:127.0.0.1:{settings.IMS_STANDIN_PORT}"
    return settings.IMS_OUTBOUND_PROXY or operator_proxy


TOKEN_MAX_AGE = 7 * 24 * 3600


def bearer_token(impu: str) -> str:
    """A portal-issued token for operators that accept them (RFC 8898); signed, so not forgeable."""
    return signing.dumps({"impu": impu}, salt=TOKEN_SALT)


def token_identity(token: str) -> str | None:
    """The identity a portal-issued token speaks for, if the token is ours and fresh."""
    try:
        return str(signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)["impu"])
    except (signing.BadSignature, KeyError, TypeError):
        return None


def _credentials(assignment: IdentityAssignment) -> DigestCredentials | None:
    block = assignment.block
    if block.auth_scheme == AuthScheme.DIGEST_IDENTITY:
        own = IdentityCredential.objects.filter(block=block, impu=assignment.impu).first()
        if own is None:
            return None
        return DigestCredentials(own.username, own.realm, {"MD5": own.ha1_md5, "SHA-256": own.ha1_sha256})
    if block.auth_scheme == AuthScheme.DIGEST_BLOCK and block.ha1_md5:
        ha1 = {"MD5": block.ha1_md5, "SHA-256": block.ha1_sha256}
        return DigestCredentials(block.auth_username, block.credentials_realm, ha1)
    if block.auth_scheme == AuthScheme.DIGEST_SHARED and block.sealed_password:
        try:
            password = credentials.unseal(block.sealed_password)
        except ValueError as unreadable:
            log.error("block %s: %s", block.pk, unreadable)
            return None
        username = credentials.username_for(block.auth_username, assignment.impu)
        return DigestCredentials.from_password(username, block.credentials_realm, password)
    return None


def identity_config(assignment_id: int) -> IdentityConfig | None:
    """None when the assignment is gone, released or at rest."""
    assignment = (
        IdentityAssignment.objects.awake()
        .select_related("block__operator", "block__agreement")
        .filter(pk=assignment_id)
    ).first()
    if assignment is None:
        return None
    operator = assignment.block.operator
    bearer = assignment.block.auth_scheme == AuthScheme.BEARER and assignment.block.agreement.accepts_bearer_tokens
    return IdentityConfig(
        assignment_id=assignment.pk,
        impu=assignment.impu,
        registrar=f"sip:{operator.home_domain}",
        proxy=proxy_peer(_proxy(operator.outbound_proxy)),  # the IMS side puts DNS's target in (RFC 3263)
        instance_id=assignment.instance_id,
        credentials=_credentials(assignment),
        bearer_token=bearer_token(assignment.impu) if bearer else None,
        expires=settings.IMS_REGISTER_EXPIRES,
        proxy_uri=_proxy(operator.outbound_proxy),
    )


def live_assignments(shard_index: int, shard_count: int) -> list[int]:
    """This shard's assignments to keep registered: live and not on their way out (a de-registration
    requested is the IMS side's to finish, or finish_stuck_deregistrations')."""
    live = IdentityAssignment.objects.awake().for_shard(shard_index, shard_count)
    return list(live.exclude(registration_state=RegistrationState.DEREGISTERING).values_list("pk", flat=True))


def stored_ha1(username: str, realm: str) -> dict[str, str] | None:
    """The hashes a registrar needs to check a Digest answer: a block's IMPI, or one identity's."""
    block = IdentityBlock.objects.unexpired().filter(auth_username=username, credentials_realm=realm).first()
    if block is not None and block.ha1_md5:
        return {"MD5": block.ha1_md5, "SHA-256": block.ha1_sha256}
    own = IdentityCredential.objects.filter(username=username, realm=realm).first()
    if own is not None:
        return {"MD5": own.ha1_md5, "SHA-256": own.ha1_sha256}
    shared = IdentityBlock.objects.unexpired().filter(auth_scheme=AuthScheme.DIGEST_SHARED, credentials_realm=realm)
    block = shared.exclude(sealed_password="").first()
    if block is None:
        return None
    secret = credentials.digest_secret(username, realm, credentials.unseal(block.sealed_password))
    return {"MD5": secret.ha1_md5, "SHA-256": secret.ha1_sha256}
