"""TLS: verification on, a private CA through tls.ca_file, and client certificates (mutual TLS)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl

import pytest

from plugins.rest import plugin
from runtime.errors import ConfigError
from runtime.plugin import Item

from contract.httppeer import HttpPeer

from .conftest import context


def _certificate(subject: str, issuer_key=None, issuer_name=None, *, ca: bool = False, ip: str | None = None):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
    return key, builder.sign(issuer_key or key, hashes.SHA256())


def _write(path, key, cert):
    from cryptography.hazmat.primitives import serialization

    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.with_suffix(".key").chmod(0o600)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    pytest.importorskip("cryptography")
    folder = tmp_path_factory.mktemp("pki")
    ca_key, ca = _certificate("Koppel test CA", ca=True)
    _write(folder / "ca", ca_key, ca)
    server_key, server = _certificate("127.0.0.1", ca_key, ca.subject, ip="127.0.0.1")
    _write(folder / "server", server_key, server)
    client_key, client = _certificate("koppel-client", ca_key, ca.subject)
    _write(folder / "client", client_key, client)
    return folder


@pytest.fixture
def https_peer(pki):
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki / "server.crt", pki / "server.key")
    server.load_verify_locations(pki / "ca.crt")
    server.verify_mode = ssl.CERT_REQUIRED  # mutual TLS, like DUO's and Kennisnet's endpoints
    with HttpPeer(ssl_context=server) as peer:
        peer.route("POST", "/records")(lambda request: (201, {"id": "T1"}))
        yield peer


def _write_one(url, **system):
    spec = plugin.target_spec.model_validate({"type": "rest", "path": "records", "reference": "id"})
    return plugin.create_target(spec, context(url, **system)).write([Item(key="k", payload={}, source_key="k")])


def test_client_certificate_and_private_ca(https_peer, pki) -> None:
    tls = {"ca_file": str(pki / "ca.crt"), "client_cert": str(pki / "client.crt"), "client_key": f"${{file:{pki / 'client.key'}}}"}
    assert _write_one(https_peer.url, tls=tls)[0].reference == "T1"


def test_untrusted_server_certificate_is_a_config_error(https_peer, pki) -> None:
    tls = {"client_cert": str(pki / "client.crt"), "client_key": f"${{file:{pki / 'client.key'}}}"}
    with pytest.raises(ConfigError, match="not trusted"):
        _write_one(https_peer.url, tls=tls)
