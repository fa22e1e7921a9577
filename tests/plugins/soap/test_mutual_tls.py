"""Mutual TLS: the target presents its client certificate to an HTTPS SOAP service on 127.0.0.1
that demands one (the ECK-iD stand-in served over TLS with CERT_REQUIRED)."""

from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest

from plugins.soap.spec import SoapTarget
from plugins.soap.target import SoapCallTarget
from runtime.errors import ConfigError, TransientError
from runtime.models.common import TLS
from runtime.plugin import Item
from soap_helpers import ECK_WSDL, HPGN


def issue(common_name: str, *, ca=None, server: bool = False):
    """(key PEM, cert PEM, key, cert): a CA when ``ca`` is None, else a leaf signed by ``ca``."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder().subject_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    issuer_key, issuer_name = (key, name) if ca is None else (ca[2], ca[3].subject)
    cert = builder.issuer_name(issuer_name).sign(issuer_key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM), key, cert


@pytest.fixture(scope="module")
def tls_service(soap_sandbox, tmp_path_factory):
    import uvicorn

    from sandbox.soap import eckid

    folder = tmp_path_factory.mktemp("pki")
    ca = issue("Sandbox PKI CA")
    server_key, server_cert, _, _ = issue("127.0.0.1", ca=ca, server=True)
    client_key, client_cert, _, _ = issue("koppel.sandbox.local", ca=ca)
    files = {"ca.crt": ca[1], "server.key": server_key, "server.crt": server_cert, "client.key": client_key, "client.crt": client_cert}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    app = eckid.create_app(soap_sandbox.context("kennisnet"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", ssl_keyfile=str(folder / "server.key"), ssl_certfile=str(folder / "server.crt"),
                            ssl_ca_certs=str(folder / "ca.crt"), ssl_cert_reqs=ssl.CERT_REQUIRED)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"https://127.0.0.1:{port}/eck/ws/201703", folder
    server.should_exit = True
    thread.join(5)


def call(context, url, tls):
    t = SoapCallTarget(SoapTarget(type="soap", wsdl=ECK_WSDL, operation="retrieveStampseudonym"), context("kennisnet", url=url, tls=tls))
    try:
        return t.write([Item(key="s", source_key="s", payload={"hpgn": HPGN})])[0]
    finally:
        t.close()


def test_client_certificate_is_presented(context, tls_service):
    url, pki = tls_service
    tls = TLS(ca_file=str(pki / "ca.crt"), client_cert=str(pki / "client.crt"), client_key=f"${{file:{pki / 'client.key'}}}")
    outcome = call(context, url, tls)
    assert outcome.ok and outcome.response["stampseudonym"].startswith("https://ketenid.nl/sppilot/")


def test_without_client_certificate_the_call_fails(context, tls_service):
    """The server refuses the handshake: the record's own outcome says so (a per-record target
    reports each call's failure in its Outcome), or the write as a whole fails."""
    url, pki = tls_service
    try:
        outcome = call(context, url, TLS(ca_file=str(pki / "ca.crt")))
    except (ConfigError, TransientError):
        return
    assert not outcome.ok and isinstance(outcome.error, (ConfigError, TransientError)), outcome


def test_an_untrusted_server_is_a_configuration_error(context, tls_service):
    url, pki = tls_service
    tls = TLS(client_cert=str(pki / "client.crt"), client_key=f"${{file:{pki / 'client.key'}}}")  # system CAs only
    with pytest.raises(ConfigError, match="TLS"):
        call(context, url, tls)
