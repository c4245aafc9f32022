"""The chat benchmark's data: K conversations, each a guest customer and an advisor of their own
who accepted them, made through the same actions as in the browser, with a session cookie for
each side. One advisor per conversation, so that each conversation has exactly two sockets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support.kamailio import DOMAIN, PASSWORD

HISTORY = 20  # earlier messages in each conversation


@dataclass
class Conversation:
    request_id: int
    customer_cookie: str
    advisor_cookie: str


def _session(**data: Any) -> str:
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store.update(data)
    store.create()
    return f"sessionid={store.session_key}"


def _advisor_session(user: Any) -> str:
    backend = "django.contrib.auth.backends.ModelBackend"
    hashed = user.get_session_auth_hash()
    return _session(_auth_user_id=str(user.pk), _auth_user_backend=backend, _auth_user_hash=hashed)


def _queue(kamailio_port: int, identities: int) -> Any:
    from help_desk.models import Queue
    from identity_blocks import actions as identity_actions
    from identity_blocks.models import IdentityBlock, Operator, ServiceAgreement

    # Suites before this one leave identities behind; the IMS side would register them all.
    for leftover in IdentityBlock.objects.unexpired():
        identity_actions.expire_block(leftover.pk)
    operator = Operator.objects.create(
        name="Bench core", home_domain=DOMAIN, realm=DOMAIN, outbound_proxy=f"sip:127.0.0.1:{kamailio_port}"
    )
    agreement = ServiceAgreement.objects.create(
        operator=operator, name="Bench", third_party="Bench", max_registrations=identities, max_sessions=identities
    )
    block = IdentityBlock(
        operator=operator, agreement=agreement, name="bench", auth_username=f"bench@{DOMAIN}",
        kind="sip_range", pattern=f"sip:chat-{{n}}@{DOMAIN}", first=1, last=identities,
    )  # fmt: skip
    block = identity_actions.save_block(block)
    identity_actions.set_block_credentials(block.pk, username=f"bench@{DOMAIN}", password=PASSWORD)
    return Queue.objects.create(name="Bench", slug="bench", agreement=agreement, identity_block=block)


def conversations(kamailio_port: int, count: int) -> list[Conversation]:
    """`count` open conversations; each advisor is made available just long enough to be rung."""
    from django.contrib.auth.models import User

    from help_desk import actions
    from help_desk.models import Advisor
    from identity_blocks.holders import Holder

    queue = _queue(kamailio_port, 2 * count + 10)
    made = []
    for n in range(count):
        user = User.objects.create_user(f"advisor{n}")  # no password: they log in by the session below
        advisor = Advisor.objects.create(user=user, capacity=1, presence="available")
        advisor.queues.add(queue)
        key = Holder.new_guest_key()
        request = actions.request_help(Holder.guest(key), queue, "chat", False)
        request.refresh_from_db()
        if request.ringing_advisor_id != advisor.pk:
            raise RuntimeError(f"advisor {n} was not rung")
        actions.accept_request(advisor, request.pk)
        Advisor.objects.filter(pk=advisor.pk).update(presence="away")  # out of routing, still on the desk
        made.append(Conversation(request.pk, _session(guest_key=key), _advisor_session(user)))
    _history([c.request_id for c in made])
    settle()
    return made


def _history(request_ids: list[int]) -> None:
    """Each conversation's earlier messages, stored as chat over the IMS stores them (the chat
    message, the MESSAGE that left the sender's identity and the one that reached the other's),
    so that the suite measures a desk that has been running: tables and statistics of a fresh
    database, its pager table empty, made plans that scanned it whole as it grew."""
    from help_desk.models import ChatMessage, HelpRequest
    from identity_blocks.models import IdentityAssignment
    from ims.models import PagerMessage

    live = {a.impu.upper(): a for a in IdentityAssignment.objects.live()}
    pagers, chats = [], []
    for request in HelpRequest.objects.filter(pk__in=request_ids).order_by("pk"):
        sides = live[request.customer_impu.upper()], live[request.advisor_impu.upper()]
        for seq in range(1, HISTORY + 1):
            body, call_id = f"Earlier message {seq}", f"history-{request.pk}-{seq}"
            out, inbound = _carrying(*(sides if seq % 2 else sides[::-1]), body, call_id)
            pagers += [out, inbound]
            chats.append(
                ChatMessage(request=request, seq=seq, from_advisor=not seq % 2, body=body, client_id=call_id,
                            sent_as=out, pager_message=inbound)
            )  # fmt: skip
    PagerMessage.objects.bulk_create(pagers, batch_size=5000)
    ChatMessage.objects.bulk_create(chats, batch_size=5000)


def _carrying(sender: Any, receiver: Any, body: str, call_id: str) -> tuple[Any, Any]:
    """The MESSAGE as it left the sender's identity and as it reached the receiver's."""
    from ims.models import Direction, MessageStatus, PagerMessage

    def one(owner: Any, other: Any, direction: str, status: str) -> PagerMessage:
        return PagerMessage(assignment=owner, direction=direction, local_impu=owner.impu, remote_uri=other.impu,
                            status=status, body=body, sip_call_id=call_id, sip_cseq=1)  # fmt: skip

    out = one(sender, receiver, Direction.OUTBOUND, MessageStatus.SENT)
    return out, one(receiver, sender, Direction.INBOUND, MessageStatus.DELIVERED)


def settle() -> None:
    """The tables just filled vacuumed and their statistics taken, as autovacuum keeps them on a
    running system: a prepared statement's generic plan made from an empty table's would scan
    every row, and autovacuum's own pass over thousands of fresh rows, left to itself, ran during
    the next measurement (p99 113 ms at 50 msg/s over the IMS in one full run)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")


def check_stored(request_ids: list[int], delivered: int) -> None:
    """Every message delivered is stored, and each conversation's numbers run 1..n unbroken."""
    from django.db.models import Count, Max

    from help_desk.models import ChatMessage

    rows = (
        ChatMessage.objects.filter(request_id__in=request_ids, seq__isnull=False)
        .values("request_id")
        .annotate(n=Count("id"), top=Max("seq"))
    )
    stored = sum(row["n"] for row in rows)
    broken = [row["request_id"] for row in rows if row["n"] != row["top"]]
    if stored < delivered or broken:
        raise RuntimeError(f"{stored} stored of {delivered} delivered; numbering broken in {broken[:5]}")
