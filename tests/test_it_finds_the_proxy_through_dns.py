"""The operator's outbound proxy is found as RFC 3263 says (NAPTR, SRV, A), asked of a real DNS
server on loopback; when the target in use stops answering, the identities register again
through the next one DNS names (two real Kamailio instances, SRV priorities 10 and 20)."""

import asyncio
import random
import time
from collections import Counter

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured

from identity_blocks import actions
from identity_blocks.models import IdentityAssignment, Operator, RegistrationState
from ims.service import ImsSide
from sip.resolve import Locator, Unresolvable
from sip.transport import Peer, UdpTransport
from sip.ua import UserAgent
from tests.factories import guest
from tests.support.dns_server import DnsServer
from tests.support.ims import kamailio_block, running, until
from tests.support.kamailio import DOMAIN, Kamailio

ZONE = "ims.test.invalid."
COUNT = 20


@pytest.fixture
def dns():
    with DnsServer() as server:
        yield server


def _locator(dns):
    return Locator(dns.address, random.Random(7))


async def test_it_follows_naptr_order_then_preference_and_keeps_sips_secure(dns):
    dns.set(
        ZONE, "NAPTR",
        f'20 10 "s" "SIP+D2U" "" _sip._udp.{ZONE}', f'10 50 "s" "SIP+D2T" "" _sip._tcp.{ZONE}',
        f'10 10 "s" "SIPS+D2T" "" _sips._tcp.{ZONE}', f'1 10 "s" "SIP+D2S" "" _sip._sctp.{ZONE}',
        f'1 10 "a" "SIP+D2U" "" elsewhere.{ZONE}',
    )  # fmt: skip
    for prefix, port, last in (("_sip._udp", 5060, 11), ("_sip._tcp", 5070, 12), ("_sips._tcp", 5071, 13)):
        dns.set(f"{prefix}.{ZONE}", "SRV", f"0 0 {port} host{last}.{ZONE}")
        dns.set(f"host{last}.{ZONE}", "A", f"127.0.0.{last}")

    located = await _locator(dns).locate("sip:ims.test.invalid")
    assert located.targets == [Peer("TLS", "127.0.0.13", 5071), Peer("TCP", "127.0.0.12", 5070),
                               Peer("UDP", "127.0.0.11", 5060)]  # fmt: skip
    assert (await _locator(dns).locate("sips:ims.test.invalid")).targets == [Peer("TLS", "127.0.0.13", 5071)]
    assert ("_sip._sctp." + ZONE, "SRV") not in dns.queries  # an unsupported service is not looked up


async def test_it_orders_srv_targets_by_priority_then_weight(dns):
    # No NAPTR: the SRV names of each transport are asked in turn.
    dns.set(f"_sip._udp.{ZONE}", "SRV", f"20 0 5080 c.{ZONE}", f"10 90 5060 a.{ZONE}", f"10 10 5070 b.{ZONE}")
    for name, address in (("a", "127.0.0.21"), ("b", "127.0.0.22"), ("c", "127.0.0.23")):
        dns.set(f"{name}.{ZONE}", "A", address)
    locator = Locator(dns.address)  # the system's randomness: the weights decide
    firsts: Counter[int] = Counter()
    for _ in range(200):
        targets = (await locator.locate("sip:ims.test.invalid")).targets
        assert targets[2] == Peer("UDP", "127.0.0.23", 5080)  # priority 20 comes after both of 10
        assert {t.port for t in targets[:2]} == {5060, 5070}
        firsts[targets[0].port] += 1
    assert 150 <= firsts[5060] < 200, firsts  # weight 90 of 100 goes first about 9 times in 10...
    assert firsts[5070] > 0, firsts  # ...and weight 10 sometimes


async def test_it_asks_srv_of_an_explicit_transport_only(dns):
    dns.set(ZONE, "NAPTR", f'10 10 "s" "SIP+D2U" "" _sip._udp.{ZONE}')
    dns.set(f"_sip._udp.{ZONE}", "SRV", f"0 0 5060 u.{ZONE}")
    dns.set(f"_sip._tcp.{ZONE}", "SRV", f"0 0 5090 t.{ZONE}")
    dns.set(f"_sips._tcp.{ZONE}", "SRV", f"0 0 5091 t.{ZONE}")
    dns.set(f"u.{ZONE}", "A", "127.0.0.31")
    dns.set(f"t.{ZONE}", "A", "127.0.0.32")

    tcp = await _locator(dns).locate("sip:ims.test.invalid;transport=tcp")
    assert tcp.targets == [Peer("TCP", "127.0.0.32", 5090)]
    assert (await _locator(dns).locate("sips:ims.test.invalid;transport=tcp")).targets == [
        Peer("TLS", "127.0.0.32", 5091)
    ]
    assert (ZONE, "NAPTR") not in dns.queries


async def test_it_asks_only_the_address_of_a_host_with_a_port(dns):
    dns.set(ZONE, "NAPTR", f'10 10 "s" "SIP+D2T" "" _sip._tcp.{ZONE}')
    dns.set(ZONE, "A", "127.0.0.41", "127.0.0.42")

    both = (await _locator(dns).locate("sip:ims.test.invalid:5099")).targets
    assert sorted(both, key=str) == [Peer("UDP", "127.0.0.41", 5099), Peer("UDP", "127.0.0.42", 5099)]
    assert (await _locator(dns).locate("sip:ims.test.invalid:5099;transport=tcp")).targets[0].transport == "TCP"
    assert {kind for _, kind in dns.queries} == {"A", "AAAA"}


async def test_it_takes_a_numeric_host_as_it_is(dns):
    locator = _locator(dns)
    assert (await locator.locate("sip:127.0.0.5")).targets == [Peer("UDP", "127.0.0.5", 5060)]
    assert (await locator.locate("sip:127.0.0.5:5999;transport=tcp")).targets == [Peer("TCP", "127.0.0.5", 5999)]
    assert (await locator.locate("sips:[::1]")).targets == [Peer("TLS", "::1", 5061)]
    assert not dns.queries


async def test_it_falls_back_to_the_address_and_default_port(dns):
    dns.set(f"plain.{ZONE}", "A", "127.0.0.51")
    assert (await _locator(dns).locate("sip:plain.ims.test.invalid")).targets == [Peer("UDP", "127.0.0.51", 5060)]
    with pytest.raises(Unresolvable):
        await _locator(dns).locate("sip:nowhere.ims.test.invalid")


async def test_it_resolves_again_once_the_ttl_has_run_out(dns):
    dns.set(f"_sip._udp.{ZONE}", "SRV", f"0 0 5060 moving.{ZONE}", ttl=60)
    dns.set(f"moving.{ZONE}", "A", "127.0.0.61", ttl=1)
    locator = _locator(dns)
    assert await locator.targets("sip:ims.test.invalid") == [Peer("UDP", "127.0.0.61", 5060)]
    dns.set(f"moving.{ZONE}", "A", "127.0.0.62", ttl=1)
    assert await locator.targets("sip:ims.test.invalid") == [Peer("UDP", "127.0.0.61", 5060)]  # cached
    started = time.monotonic()
    while await locator.targets("sip:ims.test.invalid") != [Peer("UDP", "127.0.0.62", 5060)]:
        assert time.monotonic() - started < 5, "not resolved again after the TTL"
        await asyncio.sleep(0.05)
    assert dns.queries[(f"moving.{ZONE}", "A")] == 2  # once, then once more after the TTL; not per call


def test_it_refuses_a_dns_server_that_is_no_address(settings):
    settings.IMS_DNS_SERVER = "dns.example:53"
    with pytest.raises(ImproperlyConfigured, match="IMS_DNS_SERVER"):
        ImsSide()


# Failing over between two real Kamailio instances -------------------------------------------------


def _all_registered():
    states = set(IdentityAssignment.objects.values_list("registration_state", flat=True))
    return states == {RegistrationState.REGISTERED}


async def _reachable(core_port, impus):
    """OPTIONS to each identity through one core: 200 from the IMS side, 404 where it is not bound."""
    agent = UserAgent(await UdpTransport().start("127.0.0.1", 0))
    statuses: Counter[int] = Counter()

    async def probe(impu):
        request = agent.new_request("OPTIONS", impu, from_uri=f"sip:probe@{DOMAIN}", to_uri=impu)
        statuses[(await agent.request(request, Peer("UDP", "127.0.0.1", core_port))).status] += 1

    await asyncio.gather(*(probe(impu) for impu in impus))
    agent.close()
    return statuses


async def _until_reachable(core_port, impus, timeout):
    deadline = asyncio.get_running_loop().time() + timeout
    while (statuses := await _reachable(core_port, impus)) != Counter({200: len(impus)}):
        assert asyncio.get_running_loop().time() < deadline, statuses
        await asyncio.sleep(0.2)


async def _two_cores(tmp_path, dns, transport):
    """Kamailio at SRV priority 10 and at 20, found through NAPTR for `transport`."""
    cores = []
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        cores.append(await asyncio.to_thread(Kamailio(tmp_path / name).start))
    service, prefix = {"UDP": ("SIP+D2U", "_sip._udp"), "TCP": ("SIP+D2T", "_sip._tcp")}[transport]
    dns.set(ZONE, "NAPTR", f'10 10 "s" "{service}" "" {prefix}.{ZONE}')
    ports = [core.udp if transport == "UDP" else core.tcp for core in cores]
    dns.set(f"{prefix}.{ZONE}", "SRV", f"20 0 {ports[1]} second.{ZONE}", f"10 0 {ports[0]} first.{ZONE}")
    dns.set(f"first.{ZONE}", "A", "127.0.0.1")
    dns.set(f"second.{ZONE}", "A", "127.0.0.1")
    return cores


async def _identities(core):
    await sync_to_async(kamailio_block)(core)
    await sync_to_async(Operator.objects.update)(outbound_proxy="sip:ims.test.invalid")
    return [(await sync_to_async(actions.assign_identity)(guest())).impu for _ in range(COUNT)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_sync_thread_connections")
@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_it_registers_through_the_next_proxy_when_the_first_stops(tmp_path, settings, dns, transport):
    settings.IMS_STANDIN, settings.IMS_DNS_SERVER = False, dns.address
    first, second = await _two_cores(tmp_path, dns, transport)
    try:
        impus = await _identities(first)
        stop, task = await running(ImsSide(keepalive=0.5))
        await until(_all_registered, timeout=20)
        assert await _reachable(first.udp, impus) == Counter({200: COUNT})  # priority 10 is used...
        assert await _reachable(second.udp, impus) == Counter({404: COUNT})  # ...and 20 not yet

        await asyncio.to_thread(first.stop)
        await _until_reachable(second.udp, impus, timeout=15)  # every identity bound at the second
        await until(_all_registered, timeout=10)
        stop.set()
        await task
    finally:
        first.stop()
        second.stop()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_sync_thread_connections")
async def test_it_moves_on_when_the_first_proxy_refuses_connections(tmp_path, settings, dns):
    """No keep-alive in time: the REGISTERs' own transport errors (TCP refused) move them on."""
    settings.IMS_STANDIN, settings.IMS_DNS_SERVER = False, dns.address
    first, second = await _two_cores(tmp_path, dns, "TCP")
    try:
        impus = await _identities(first)
        await asyncio.to_thread(first.stop)
        stop, task = await running(ImsSide(keepalive=3600))
        await _until_reachable(second.udp, impus, timeout=15)
        await until(_all_registered, timeout=10)
        stop.set()
        await task
    finally:
        first.stop()
        second.stop()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_sync_thread_connections")
async def test_it_waits_while_every_proxy_is_down_and_moves_to_the_one_that_comes_back(tmp_path, settings, dns):
    settings.IMS_STANDIN, settings.IMS_DNS_SERVER = False, dns.address
    first, second = await _two_cores(tmp_path, dns, "UDP")
    try:
        impus = await _identities(first)
        stop, task = await running(ImsSide(keepalive=0.5))
        await until(_all_registered, timeout=20)
        await asyncio.gather(asyncio.to_thread(first.stop), asyncio.to_thread(second.stop))
        await until(lambda: not _all_registered(), timeout=10)  # the keep-alive saw the core go

        await asyncio.to_thread(second.start)  # forgot everything; the first stays down
        await _until_reachable(second.udp, impus, timeout=15)
        await until(_all_registered, timeout=10)
        stop.set()
        await task
    finally:
        first.stop()
        second.stop()
