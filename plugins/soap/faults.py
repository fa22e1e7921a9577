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
- SBB's answers carry a ``Signaalcode`` in their result (``VerificatieResult``, ``ZoekenResult``,
  ...): 0 is fine; 996 (no valid licence) is a ConfigError, since no call can succeed until the
  catalog's Licentie is right; any other code is a RecordError with SBB's text (the leerbedrijf
  is unknown, or has no erkenning for that opleiding on that date). A verification answered
  with ``Erkend`` false is refused the same way.
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


def functional_rejection(answer: object, *, system: str) -> RecordError | None:
    """A refusal inside a normal (HTTP 200) answer, as DUO gives them.

    RIO: ``requestGoedgekeurd`` false with ``foutmelding`` {foutcode, fouttekst}; DUO's
    Bedrijfsdocument acknowledgements: ``ontvangstBevestiging`` N with signals.
    """
    if not isinstance(answer, dict):
        return None
    if answer.get("requestGoedgekeurd") in (False, "false"):
        errors = answer.get("foutmelding") or []
        errors = errors if isinstance(errors, list) else [errors]
        parts = [f"{e.get('foutcode')} {e.get('fouttekst')}" for e in errors if isinstance(e, dict)]
        code = errors[0].get("foutcode") if errors and isinstance(errors[0], dict) else "afgekeurd"
        text = redact.text("; ".join(parts))[:500] or "no reason given"
        return RecordError(f"{system} refused the record: {text}", code=str(code))
    signalled = sbb_signal(answer, system=system)
    if signalled is not None:
        return signalled
    if answer.get("ontvangstBevestiging") == "N":
        signals = answer.get("signaal") or []
        signals = signals if isinstance(signals, list) else [signals]
        parts = [f"{s.get('signaalcode')} {s.get('signaalomschrijving')}" for s in signals if isinstance(s, dict)]
        text = redact.text("; ".join(parts))[:500] or "no reason given"
        return RecordError(f"{system} refused the record: {text}", code="ontvangstBevestiging=N")
    return None


NO_LICENCE = "996"


def sbb_signal(answer: dict, *, system: str) -> RecordError | None:
    """SBB's in-band refusal: a result object whose ``Signaalcode`` is not 0 (996 raises)."""
    for name, result in answer.items():
        if not isinstance(result, dict) or "Signaalcode" not in result:
            continue
        code = str(result.get("Signaalcode") if result.get("Signaalcode") is not None else "0")
        text = redact.text(str(result.get("Signaaltekst") or "no reason given"))[:300]
        if code == NO_LICENCE:
            raise ConfigError(f"{system} refused the call ({name} Signaalcode 996: {text}); "
                              "check the Licentie in the catalog (options.licentie, the request's system_fields)", code="996")
        if code != "0":
            return RecordError(f"{system} refused the record: Signaalcode {code} {text}", code=f"signaal-{code}")
        if result.get("Erkend") in (False, "false"):
            return RecordError(f"{system} refused the record: not recognised ({name} Erkend false)", code="niet-erkend")
    return None
