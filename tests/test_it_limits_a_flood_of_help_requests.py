"""Each start of help holds one of the queue's IMS identities: a flood from one address, or from
one browser, is answered 429 while a customer arriving from elsewhere is served; a browser's
second start goes back to its open request; and a request whose page never opened gives its
identity back when the grace runs out."""

from __future__ import annotations

import subprocess
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from help_desk import actions, presence
from help_desk.models import HelpRequest, RequestStatus
from identity_blocks.holders import Holder
from identity_blocks.models import IdentityAssignment
from tests.factories import make_queue
from tests.support.processes import portal_env, python
from tests.support.services import redis_url

pytestmark = pytest.mark.django_db

FLOODER = "203.0.113.9"


@pytest.fixture(autouse=True)
def fresh_counts(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "limits"}}
    from django.core.cache import cache

    cache.clear()


def start(client: Client, queue, address: str, **headers: str):
    meta: dict[str, Any] = {"REMOTE_ADDR": address, **headers}
    return client.post("/help/start/", {"queue": queue.slug, "mode": "chat"}, **meta)


def test_it_refuses_a_flood_from_one_address_and_serves_jane_meanwhile(settings):
    settings.HELP_START_PER_ADDRESS = 10
    queue = make_queue(20)
    answers = [start(Client(), queue, FLOODER).status_code for _ in range(100)]  # no cookie kept
    jane = Client()
    landed = start(jane, queue, "198.51.100.7")
    answers += [start(Client(), queue, FLOODER).status_code for _ in range(100)]
    assert answers.count(302) == 10
    assert answers.count(429) == 190
    assert landed.status_code == 302
    assert jane.get(landed["Location"]).status_code == 200
    mine = HelpRequest.objects.get(guest_key=jane.session["guest_key"])
    assert mine.status == RequestStatus.WAITING
    assert IdentityAssignment.objects.live().of(Holder.guest(jane.session["guest_key"])).exists()
    assert IdentityAssignment.objects.live().count() == 11


def test_it_explains_a_refused_start_and_when_to_try_again(settings):
    settings.HELP_START_PER_ADDRESS = 1
    settings.HELP_START_WINDOW_SECONDS = 600
    queue = make_queue(5)
    assert start(Client(), queue, FLOODER).status_code == 302
    refused = start(Client(), queue, FLOODER)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 600
    page = refused.content.decode()
    assert "Too many requests for help" in page
    assert f"/help/?queue={queue.slug}" in page


def test_it_limits_one_browser_whatever_its_address(settings):
    settings.HELP_START_PER_CLIENT = 3
    queue = make_queue(10)
    jane = Client()
    answers = []
    for n in range(6):
        answers.append(start(jane, queue, f"192.0.2.{n + 1}").status_code)
        for request in HelpRequest.objects.open():  # she leaves, and starts again
            actions.close_request(request.pk)
    assert answers == [302, 302, 302, 429, 429, 429]


def test_it_sends_a_second_start_back_to_the_open_request(settings):
    settings.HELP_START_PER_CLIENT = 1
    queue = make_queue(10)
    jane = Client()
    first = start(jane, queue, "198.51.100.7")
    again = [start(jane, queue, "198.51.100.7") for _ in range(5)]
    assert {response["Location"] for response in again} == {first["Location"]}
    assert HelpRequest.objects.count() == 1


def test_it_counts_an_ipv6_prefix_as_one_address(settings):
    settings.HELP_START_PER_ADDRESS = 2
    queue = make_queue(10)
    answers = [start(Client(), queue, f"2001:db8:1:2::{n:x}").status_code for n in range(1, 4)]
    assert answers == [302, 302, 429]
    assert start(Client(), queue, "2001:db8:1:3::1").status_code == 302
    # IPv4 browsers on a dual-stack socket are each their own address, not one shared prefix.
    assert start(Client(), queue, "::ffff:198.51.100.7").status_code == 302
    assert start(Client(), queue, "::ffff:198.51.100.8").status_code == 302
    assert start(Client(), queue, "198.51.100.7").status_code == 302
    assert start(Client(), queue, "::ffff:198.51.100.7").status_code == 429


def test_it_counts_the_address_the_proxy_names(settings):
    settings.HELP_START_PER_ADDRESS = 1
    settings.CLIENT_ADDRESS_HEADER = "X-Real-IP"
    queue = make_queue(10)
    proxy = "10.0.0.2"
    assert start(Client(), queue, proxy, HTTP_X_REAL_IP=FLOODER).status_code == 302
    assert start(Client(), queue, proxy, HTTP_X_REAL_IP=FLOODER).status_code == 429
    assert start(Client(), queue, proxy, HTTP_X_REAL_IP="198.51.100.7").status_code == 302


def test_it_withdraws_a_request_whose_page_never_opened_and_frees_its_identity(settings):
    settings.HELP_CUSTOMER_GRACE_SECONDS = 30
    queue = make_queue(1)
    ghost = Client()
    assert start(ghost, queue, FLOODER).status_code == 302
    holder = Holder.guest(ghost.session["guest_key"])
    assert IdentityAssignment.objects.live().count() == 1  # the block's one identity
    presence.sweep()
    assert HelpRequest.objects.filter(guest_key=holder.guest_key).get().status == RequestStatus.WAITING
    HelpRequest.objects.update(created_at=timezone.now() - timedelta(seconds=31))
    presence.sweep()
    assert HelpRequest.objects.filter(guest_key=holder.guest_key).get().status == RequestStatus.ABANDONED
    assert not IdentityAssignment.objects.live().of(holder).exists()
    assert start(Client(), queue, "198.51.100.7").status_code == 302


COUNT = """
import django; django.setup()
from portal import limits
print(sum(limits.allow("test", "{key}", 20, 600) for _ in range(15)))
"""


def test_it_holds_the_limit_across_processes_sharing_redis():
    key = uuid.uuid4().hex
    env = portal_env(REDIS_URL=redis_url())
    runs = [
        subprocess.Popen(python("-c", COUNT.format(key=key)), env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    allowed = [int(run.communicate(timeout=60)[0].split()[-1]) for run in runs]
    assert sum(allowed) == 20
