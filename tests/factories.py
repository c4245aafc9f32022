"""Small factories for the tests' personas and IMS fixtures."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth.models import User

from identity_blocks import actions
from identity_blocks.holders import Holder
from identity_blocks.models import BlockKind, IdentityBlock, Operator, ServiceAgreement

_seq = itertools.count(1)


def make_user(username: str, *, staff: bool = False) -> User:
    user = User.objects.create_user(username, password=f"{username}-password")
    if staff:
        user.is_staff = user.is_superuser = True
        user.save()
    return user


def guest() -> Holder:
    return Holder.guest(Holder.new_guest_key())


def make_operator(domain: str = "ims.example.net", **fields: Any) -> Operator:
    defaults = dict(name=f"Operator {next(_seq)}", outbound_proxy=f"sip:pcscf.{domain};lr", realm=domain)
    return Operator.objects.create(home_domain=domain, **{**defaults, **fields})


def make_agreement(operator: Operator | None = None, **fields: Any) -> ServiceAgreement:
    defaults = dict(name=f"Agreement {next(_seq)}", third_party="Tax Help Ltd", max_registrations=10_000)
    defaults.update(max_sessions=1_000, allows_voice=True, passthrough_codecs="opus")
    return ServiceAgreement.objects.create(operator=operator or make_operator(), **{**defaults, **fields})


def make_block(size: int = 50, *, agreement: ServiceAgreement | None = None, **fields: Any) -> IdentityBlock:
    agreement = agreement or make_agreement()
    domain = agreement.operator.home_domain
    defaults = dict(
        name=f"Block {next(_seq)}",
        kind=BlockKind.SIP_RANGE,
        pattern=f"sip:help-{{n:07d}}@help.{domain}",
        first=0,
        last=size - 1,
    )
    block = IdentityBlock(operator=agreement.operator, agreement=agreement, **{**defaults, **fields})
    return actions.save_block(block)


def make_queue(size: int = 50, **agreement_fields: Any) -> Any:
    from help_desk.models import Queue

    agreement = make_agreement(**{"allows_chat": True, **agreement_fields})
    block = make_block(size, agreement=agreement)
    return Queue.objects.create(name="Tax help", slug=f"tax-{next(_seq)}", agreement=agreement, identity_block=block)


def make_advisor(
    username: str, queue: Any, *, presence: str = "offline", capacity: int = 3, idle_minutes: int = 0
) -> Any:
    from datetime import timedelta

    from django.utils import timezone

    from help_desk.models import Advisor

    advisor = Advisor.objects.create(
        user=make_user(username), presence=presence, capacity=capacity,
        idle_since=timezone.now() - timedelta(minutes=idle_minutes),
    )  # fmt: skip
    advisor.queues.add(queue)
    return advisor


def make_conversation(queue: Any = None, advisor_name: str = "alex") -> tuple[Any, Holder, Holder]:
    """A chat a guest asked for and an advisor of the queue accepted: (request, jane, advisor)."""
    from help_desk import actions
    from help_desk.models import HelpRequest

    queue = queue or make_queue()
    advisor = make_advisor(advisor_name, queue, presence="available", capacity=1)
    jane = Holder.guest(Holder.new_guest_key())
    request = actions.request_help(jane, queue, "chat", False)
    accepted = HelpRequest.objects.get(pk=actions.accept_request(advisor, request.pk).pk)
    return accepted, jane, Holder.member(advisor.user)
