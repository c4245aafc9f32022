"""SIP over TLS toward an operator's proxy: a certificate signed by the configured CA is trusted,
any other is refused."""

import asyncio
import datetime
import ipaddress
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sip.message import Request, Response, StreamParser
from sip.transport import Peer, StreamTransport, tls_context
from sip.ua import UserAgent
from tests.sip_peers import FAST


def _certificate(tmp_path, name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


async def _tls_proxy(cert, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    seen = []

    async def serve(reader, writer):
        framer = StreamParser()
        while data := await reader.read(65536):
            for item in framer.feed(data):
                if isinstance(item, Request):
                    seen.append(item)
                    response = Response(status=200, reason="OK")
                    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
                        for value in item.get_all(name):
                            response.add(name, value)
                    writer.write(response.to_bytes())

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    return server, seen


def _message(agent):
    to = "sip:help-0001@ims.test"
    request = agent.new_request("MESSAGE", to, from_uri="sip:jane@ims.test", to_uri=to)
    request.body = b"over TLS"
    return request


async def test_it_trusts_the_configured_ca_only(tmp_path):
    cert, key = _certificate(tmp_path, "operator")
    stranger, _ = _certificate(tmp_path, "stranger")
    server, seen = await _tls_proxy(cert, key)
    peer = Peer("TLS", "127.0.0.1", server.sockets[0].getsockname()[1])

    trusting = UserAgent(StreamTransport(tls=tls_context(cert, None, None)), None, FAST)
    response = await trusting.request(_message(trusting), peer)
    assert response.status == 200
    assert seen[0].get_all("Via")[0].startswith("SIP/2.0/TLS ")
    assert seen[0].body == b"over TLS"

    doubting = UserAgent(StreamTransport(tls=tls_context(stranger, None, None)), None, FAST)
    refused = await doubting.request(_message(doubting), peer)
    assert refused.status == 503
    assert refused.local
    assert "CERTIFICATE_VERIFY_FAILED" in refused.reason
    for agent in (trusting, doubting):
        agent.close()
    server.close()
