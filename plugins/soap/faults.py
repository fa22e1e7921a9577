"""SOAP faults and transport failures mapped to Koppel's error taxonomy.

Decisions (Edukoppeling fault codes, see research/domain-standards.md §0):

- ``Server.DK0051`` (service unavailable, time-out), any other ``Server.*``, HTTP 5xx without a
  fault, 429, timeouts, refused connections and unreadable answers (a proxy's HTML page):
  TransientError: retried with backoff.
- ``Server.DK0050`` (service error, the *functional* message in faultstring): RecordError. DUO
  puts functional rejections of this one message there; sending it again unchanged gives the
  same answer, so it goes to the dead letters with DUO's text (replayable after a fix).
- ``Client.DK0004`` (not conform the XSD): ContractError; other ``Client.*`` codes that are not
  about our set-up: RecordError.
- Set-up faults: authorisation (DK0002), SOAPAction (DK0003), addressing (DK0005-DK0011,
  EK0020-EK0023), certificate OIN (EK0030), signature (EK0031), VersionMismatch: ConfigError.
  No record can succeed until the configuration is fixed, so the run stops.
- An answer with a DTD or entity declaration: RecordError with code ``unsafe-xml``. It is an
  attack or a broken peer; it is never resolved, and the record is kept as a dead letter for
  a human to look at rather than hammered again.
"""

from __future__ import annotations

from runtime import redact
from runtime.errors import ConfigError, ContractError, KoppelError, RecordError, TransientError

CONFIG_CODES = {
    "DK0001", "DK0002", "DK0003", "DK0005", "DK0006", "DK0007", "DK0008", "DK0009", "DK0010",
    "DK0011", "EK0020", "EK0021", "EK0022", "EK0023", "EK0030", "EK0031",
}  # fmt: skip


def normalise_code(faultcode: str) -> str:
    """``soap:Client.DK0004`` → ``Client.DK0004``."""
    return faultcode.strip().rpartition(":")[2]


def from_fault(faultcode: str, faultstring: str, *, system: str) -> KoppelError:
    code = normalise_code(faultcode)
    head, _, detail = code.partition(".")
    # the peer's text may echo record values: mask BSNs and secrets before it is stored anywhere
    text = redact.text((faultstring or "").strip())[:500]
    message = f"{system} answered with SOAP fault {code}: {text}" if text else f"{system} answered with SOAP fault {code}"
    if detail in CONFIG_CODES or head == "VersionMismatch":
        return ConfigError(message, code=code)
    if detail == "DK0004":
        return ContractError(message, code=code)
    if detail == "DK0050":
        return RecordError(message, code=code)
    if head == "Client":
        return RecordError(message, code=code)
    return TransientError(message, code=code)


def from_http_status(status: int, *, system: str, retry_after: str | None = None) -> KoppelError:
    message = f"{system} answered HTTP {status} without a SOAP fault"
    if status == 429:
        return TransientError(message, code="429", retry_after=_seconds(retry_after))
    if status >= 500:
        return TransientError(message, code=str(status), retry_after=_seconds(retry_after))
    if status in (401, 403, 404, 405):
        return ConfigError(f"{message}: check the endpoint and the client certificate", code=str(status))
    return RecordError(message, code=str(status))


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
