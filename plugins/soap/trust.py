"""Trust an answer of a 2W-be-S service (DUO) only when it verifies.

A signed answer is accepted when all of these hold, else it is a RecordError (code
``untrusted-answer``: a dead letter naming the reason, never a delivery):

- it carries a WS-Security signature that verifies and covers the Timestamp, wsa:To, Action,
  MessageID, RelatesTo, From and the Body (edukoppeling.verify), and the Timestamp has not expired;
- ``wsa:RelatesTo`` is the MessageID of the request it answers;
- the signing certificate is in the system's trust store for this environment
  (``options.trust_store`` in catalog.yaml, a PEM file of one or more certificates), or was issued
  directly by one of them (a PKIoverheid intermediate), and is within its validity period.

A signed profile without a trust store is a ConfigError: Koppel never trusts DUO's answers by
default. SOAP faults are not checked: a fault is never a delivery, whatever its signature.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from lxml import etree

from runtime import paths
from runtime.errors import ConfigError, RecordError

from . import edukoppeling


class TrustStore:
    def __init__(self, system: str, certificates: list) -> None:
        self.system = system
        self.certificates = certificates

    @classmethod
    def load(cls, system: str, reference: str | None, project_root: Path) -> TrustStore:
        from cryptography import x509

        if not reference:
            raise ConfigError(
                f"system {system}: its answers are signed (2W-be-S) and must be verified; set options.trust_store "
                "(a PEM file with the certificate(s) the service signs with) for this environment"
            )
        file = paths.expand(str(reference), project_root)
        try:
            certificates = x509.load_pem_x509_certificates(file.read_bytes())
        except OSError as exc:
            raise ConfigError(f"system {system}: cannot read trust_store {reference} ({exc.strerror})") from None
        except ValueError:
            raise ConfigError(f"system {system}: trust_store {reference} holds no PEM certificate") from None
        return cls(system, certificates)

    def check_answer(self, envelope: etree._Element, request_message_id: str | None) -> None:
        """RecordError unless ``envelope`` is signed by a trusted certificate and answers our request."""
        try:
            der = edukoppeling.verify(envelope, answer=True)
        except edukoppeling.SignatureProblem as exc:
            raise self._untrusted(str(exc)) from None
        relates_to = edukoppeling.read_addressing(envelope)["RelatesTo"]
        if request_message_id and relates_to != request_message_id:
            raise self._untrusted(f"wsa:RelatesTo {relates_to!r} is not the request's MessageID {request_message_id!r}")
        self._check_certificate(der)

    def _check_certificate(self, der: bytes) -> None:
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature

        signer = x509.load_der_x509_certificate(der)
        now = dt.datetime.now(dt.UTC)
        if not signer.not_valid_before_utc <= now <= signer.not_valid_after_utc:
            raise self._untrusted(f"signing certificate '{signer.subject.rfc4514_string()}' is not valid now")
        for trusted in self.certificates:
            if signer == trusted:
                return
            if signer.issuer == trusted.subject:
                try:
                    signer.verify_directly_issued_by(trusted)
                    return
                except (InvalidSignature, ValueError, TypeError):  # a namesake, not the issuer
                    continue
        raise self._untrusted(f"signing certificate '{signer.subject.rfc4514_string()}' is not in the trust store")

    def _untrusted(self, reason: str) -> RecordError:
        return RecordError(f"{self.system}: answer not trusted: {reason}", code="untrusted-answer")
