"""Registration against a scripted registrar: 423 Min-Expires, a stale nonce, a refusal, the
granted lifetime and the Service-Route are all obeyed."""

import asyncio
from datetime import UTC, datetime

from ims.registration import IdentityConfig, Registration, refresh_delay
from sip.digest import DigestCredentials
from sip.headers import NameAddr
from tests.sip_peers import RawUdp, udp_agent

IMPU = "sip:help-0001@ims.test"


class Events:
    def __init__(self):
        self.log = []

    async def registering(self, assignment_id):
        self.log.append("registering")

    async def registered(self, assignment_id, until, service_route):
        self.log.append(("registered", round((until - datetime.now(UTC)).total_seconds()), service_route))

    async def failed(self, assignment_id, reason):
        self.log.append(("failed", reason))

    async def deregistered(self, assignment_id):
        self.log.append("deregistered")


def _challenge(nonce, extra=""):
    return f'Digest realm="ims.test", nonce="{nonce}", qop="auth"{extra}'


def _config(registrar):
    credentials = DigestCredentials.from_password("helpdesk@ims.test", "ims.test", "secret")
    return IdentityConfig(1, IMPU, "sip:ims.test", registrar.peer, "<urn:uuid:1>", credentials, expires=3600)


async def _answer(registrar, status, reason, *headers):
    request, addr = await registrar.next()
    response = registrar_response(request, status, reason, headers)
    registrar.send(response.to_bytes(), addr)
    return request


def registrar_response(request, status, reason, headers):
    from sip.message import Response

    response = Response(status=status, reason=reason)
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        for value in request.get_all(name):
            response.add(name, value)
    for name, value in headers:
        response.add(name, value)
    return response


async def test_it_obeys_423_answers_a_stale_nonce_and_keeps_the_grant_and_service_route():
    registrar, agent, events = await RawUdp.start(), await udp_agent(), Events()
    registration = Registration(agent, _config(registrar), events)
    pending = asyncio.ensure_future(registration.register())
    await _answer(registrar, 423, "Interval Too Brief", ("Min-Expires", "7200"))
    first = await _answer(
        registrar, 401, "Unauthorized", ("WWW-Authenticate", 'Digest realm="ims.test", nonce="n1", qop="auth"')
    )
    assert first["Expires"] == "7200"
    answered = await _answer(registrar, 401, "Unauthorized", ("WWW-Authenticate", _challenge("n2", ", stale=TRUE")))
    assert 'nonce="n1"' in answered["Authorization"]
    contact = NameAddr.parse(answered["Contact"])
    granted = ("Contact", f"<{contact.uri}>;expires=5000")
    again = await _answer(registrar, 200, "OK", granted, ("Service-Route", "<sip:scscf.ims.test;lr>"))
    assert 'nonce="n2"' in again["Authorization"]
    assert again.call_id == first.call_id  # one Call-ID for the identity (RFC 3261 §10.2.4)
    assert again.cseq[0] > first.cseq[0]
    assert contact.params["+sip.instance"] == '"<urn:uuid:1>"'
    await pending
    assert events.log[-1] == ("registered", 5000, ["<sip:scscf.ims.test;lr>"])
    registration.stop()
    agent.close()
    registrar.close()


async def test_it_gives_up_on_403_with_the_reason():
    registrar, agent, events = await RawUdp.start(), await udp_agent(), Events()
    registration = Registration(agent, _config(registrar), events)
    pending = asyncio.ensure_future(registration.register())
    await _answer(registrar, 403, "Forbidden")
    await pending
    assert events.log[-1] == ("failed", "403 Forbidden from the registrar")
    assert registration._timer is None  # no retry: an admin must act
    agent.close()
    registrar.close()


def test_it_refreshes_as_ts_24_229_says():
    assert refresh_delay(3600) == 3000  # 600 s before expiry when over 1200 s
    assert refresh_delay(1200) == 600  # else at half time
    assert refresh_delay(60) == 30
