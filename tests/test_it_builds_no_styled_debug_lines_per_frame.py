"""autobahn, daphne's WebSocket protocol, styled the arguments of a debug line (click.style) for
every read and every frame sent, logged or not (portal.runtime.plain_autobahn_logs stops it);
the bytes still go out as they were."""

from typing import Any
from unittest import mock

import click
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet.testing import StringTransport

from portal.runtime import plain_autobahn_logs


def _styled_while_a_socket_reads_and_sends() -> tuple[int, bytes]:
    factory = WebSocketServerFactory()
    factory.protocol = WebSocketServerProtocol
    protocol: Any = factory.buildProtocol(None)
    protocol.makeConnection(StringTransport())
    with mock.patch.object(click, "style", wraps=click.style) as style:
        protocol.dataReceived(b"GET")
        protocol.sendData(b"frame")
    return style.call_count, protocol.transport.value()


def test_it_builds_no_styled_debug_lines_per_frame():
    plain_autobahn_logs()
    assert _styled_while_a_socket_reads_and_sends() == (0, b"frame")


def test_it_is_what_asgi_sets_up():
    from autobahn.websocket import protocol

    import portal.asgi  # noqa: F401 (daphne imports it so)

    styled = protocol.hltype  # type: ignore[attr-defined]
    assert styled(_styled_while_a_socket_reads_and_sends) is _styled_while_a_socket_reads_and_sends
