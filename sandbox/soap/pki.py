"""The sandbox's own signing key and certificate (var/sandbox/pki/koppel.{key,crt}).

A self-signed RSA-2048 certificate whose subject carries the college's OIN as serialNumber, the
way a PKIoverheid certificate does. Created once, when missing; ``koppel sandbox up`` and the
tests call ``ensure_sandbox_pki``. Never used outside the sandbox environment.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

SANDBOX_OIN = "0000000700025LX00000"


def ensure_sandbox_pki(project_root: Path, *, name: str = "koppel", oin: str = SANDBOX_OIN) -> tuple[Path, Path]:
    """(key path, certificate path) under var/sandbox/pki, created if missing."""
    from runtime.paths import var_dir

    folder = var_dir(Path(project_root)) / "sandbox" / "pki"
    key_path, cert_path = folder / f"{name}.key", folder / f"{name}.crt"
    if key_path.exists() and cert_path.exists():
        return key_path, cert_path
    folder.mkdir(parents=True, exist_ok=True)
    key_pem, cert_pem = make_self_signed(f"{name}.sandbox.local", oin)
    _write(key_path, key_pem, private=True)
    _write(cert_path, cert_pem, private=False)
    return key_path, cert_path


def make_self_signed(common_name: str, oin: str) -> tuple[bytes, bytes]:
    """(PEM key, PEM certificate) for signing messages (not for TLS)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Koppel sandbox"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, oin),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data: bytes, *, private: bool) -> None:
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    tmp.replace(path)
