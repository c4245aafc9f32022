"""Requests a core challenges (RFC 3261 §22.2-22.3): many challenge every request, not only REGISTER.

A 401 or 407 is answered by sending the request again as a new transaction (§8.1.3.5): the same
Call-ID, From (tag) and To, the next CSeq number, a new branch, and an Authorization or
Proxy-Authorization answering the challenge. The ACK of the 401/407 to an INVITE is the transaction
layer's (§17.1.1.3).
"""

from __future__ import annotations

from collections.abc import Callable

from sip.digest import AuthError, DigestCredentials, authorization, choose
from sip.message import Request, Response
from sip.transport import Peer
from sip.ua import UserAgent

# A proxy and then the far end may each challenge, and a stale nonce is answered once more.
ROUNDS = 3
_HEADERS = {401: ("WWW-Authenticate", "Authorization"), 407: ("Proxy-Authenticate", "Proxy-Authorization")}


def answered(request: Request, response: Response, credentials: DigestCredentials) -> Request:
    """`request` again, answering the challenge of `response` (a 401 or 407). Raises AuthError
    when no challenge there can be answered."""
    challenge_header, answer_header = _HEADERS[response.status]
    challenge = choose(response.get_all(challenge_header))
    again = Request(method=request.method, uri=request.uri, body=request.body)
    again.headers = [(name, value) for name, value in request.headers if name not in ("Via", answer_header)]
    again.set("CSeq", f"{request.cseq[0] + 1} {request.method}")
    again.add(answer_header, authorization(challenge, credentials, request.method, request.uri))
    return again


def _fresh(response: Response, answered_before: set[tuple[int, str]]) -> tuple[int, str] | None:
    """The (status, realm) to answer, or None where we answered that realm already and the core
    refused it for a reason other than a stale nonce (wrong credentials: asking again cannot help)."""
    challenge = choose(response.get_all(_HEADERS[response.status][0]))
    key = (response.status, challenge.realm)
    return None if key in answered_before and not challenge.stale else key


async def request(
    agent: UserAgent, request: Request, peer: Peer, credentials: DigestCredentials | None, *,
    provisional: Callable[[Response], None] | None = None, new_via: bool = True,
    resending: Callable[[Request], bool] | None = None,
) -> Response:  # fmt: skip
    """Send `request` (as UserAgent.request does) and answer the challenges of its final response.
    `resending` is told each new request before it goes (a dialog's CSeq, the INVITE a CANCEL
    names) and may stop it by returning False; the challenge is then the answer."""
    response = await agent.request(request, peer, provisional, new_via=new_via)
    answered_before: set[tuple[int, str]] = set()
    for _ in range(ROUNDS):
        if response.status not in _HEADERS or credentials is None:
            return response
        try:
            key = _fresh(response, answered_before)
            if key is None:
                return response
            request = answered(request, response, credentials)
        except AuthError:
            return response
        answered_before.add(key)
        if resending is not None and not resending(request):
            return response
        response = await agent.request(request, peer, provisional)
    return response
