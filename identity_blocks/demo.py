"""The demo's operator, agreement and identity block, served by the stand-in IMS core."""

from __future__ import annotations

from django.conf import settings

from identity_blocks import actions
from identity_blocks.models import BlockKind, IdentityBlock, Operator, ServiceAgreement

DEMO_DOMAIN = "ims.demo.test"
DEMO_BLOCK_PASSWORD = "demo-block-secret"  # noqa: S105 (the stand-in core's; seed_demo refuses without DEBUG)


def seed() -> list[str]:
    operator, _ = Operator.objects.get_or_create(
        name="Demo IMS operator",
        defaults={
            "home_domain": DEMO_DOMAIN,
            "realm": DEMO_DOMAIN,
            "outbound_proxy": f"sip:127.0.0.1:{settings.IMS_STANDIN_PORT};lr",
        },
    )
    agreement, _ = ServiceAgreement.objects.get_or_create(
        operator=operator,
        name="Tax help desk",
        defaults={
            "third_party": "Demo Tax Advisors",
            "allows_chat": True,
            "allows_secure_chat": True,
            "allows_voice": True,
            "allows_video": True,
            "passthrough_codecs": "opus",
            "reachable_prefixes": "+49",
            "max_registrations": 1000,
            "max_sessions": 200,
        },
    )
    block = IdentityBlock.objects.filter(agreement=agreement, name="Help desk identities").first()
    if block is None:
        block = actions.save_block(
            IdentityBlock(
                operator=operator,
                agreement=agreement,
                name="Help desk identities",
                kind=BlockKind.SIP_RANGE,
                pattern=f"sip:help-{{n:04d}}@{DEMO_DOMAIN}",
                first=1,
                last=1000,
                auth_username="helpdesk@" + DEMO_DOMAIN,
            )
        )
        actions.set_block_credentials(block.pk, username=block.auth_username, password=DEMO_BLOCK_PASSWORD)
    return [
        f"IMS operator: {operator} ({DEMO_DOMAIN}), agreement: {agreement}",
        f"Identity block: {block.pattern} for n = {block.first}..{block.last}",
    ]
