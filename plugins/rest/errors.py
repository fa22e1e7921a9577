"""HTTP failures → Koppel's error taxonomy (``runtime.errors``). The class decides what happens next.

| what happened                                   | error            | why                                  |
|-------------------------------------------------|------------------|--------------------------------------|
| connection refused / reset, DNS, TLS handshake  | TransientError   | the peer may be back in a minute     |
| timeout (connect, read, write, pool)            | TransientError   | idem                                 |
| 5xx                                             | TransientError   | an outage, not this record's fault   |
| 429, 503 with Retry-After                       | TransientError   | ``retry_after`` from the headers     |
| 408 Request Timeout, 425 Too Early              | TransientError   | the peer itself says "try again"     |
| 401, 403                                        | ConfigError      | wrong or expired credentials/rights: |
|                                                 |                  | retrying every record cannot help    |
| TLS certificate not trusted                     | ConfigError      | fix ``tls.ca_file``; not a blip      |
| 400, 404, 409, 410, 413, 415, 422, other 4xx    | RecordError      | this record; the others go on        |
| 2xx whose body is not the JSON/XML it claims    | TransientError   | see below                            |

A malformed response body (a 2xx that does not parse) is treated as transient: in practice it is
a proxy's HTML error page, a truncated answer or a peer half-way through a deploy, and the next
attempt usually parses. If it keeps happening, the engine's retries run out and the record is
kept as a dead letter with this reason, so nothing is lost and nothing is silently dropped.

Error texts from the peer are masked with ``runtime.redact`` (secrets, BSNs) and cut short.
"""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime

import httpx

from runtime import redact
from runtime.errors import ConfigError, KoppelError, RecordError, TransientError

_MAX_TEXT = 500
_TRANSIENT_4XX = {408, 425, 429}


def retry_after_seconds(response: httpx.Response, *, now: float | None = None) -> float | None:
    """The peer's hint how long to wait, in seconds, or None.

    Reads ``Retry-After`` (seconds or an HTTP date), else the reset of a rate-limit window:
    ``X-RateLimit-Minutely-Reset`` / ``X-RateLimit-Reset`` (Exact sends epoch milliseconds,
    others epoch seconds or a number of seconds from now; all three are recognised by size).
    """
    now = time.time() if now is None else now
    headers = response.headers
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                pass
    for name in ("x-ratelimit-minutely-reset", "x-ratelimit-reset"):
        value = headers.get(name)
        if value:
            try:
                return reset_to_seconds(float(value), now)
            except ValueError:
                continue
    return None


def reset_to_seconds(reset: float, now: float) -> float:
    """A rate-limit reset value → seconds from now. Epoch ms ≥ 1e12, epoch s ≥ 1e9, else delta.

    (1e12 ms is September 2001, 1e9 s the same moment; a delta of 31 years is no rate limit.)"""
    if reset >= 1e12:
        return max(0.0, reset / 1000.0 - now)
    if reset >= 1e9:
        return max(0.0, reset - now)
    return max(0.0, reset)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)  # "Onbekende opleiding é", not "\\u00e9"


def error_text(response: httpx.Response) -> str:
    """The peer's own error message, short and masked: never a secret or a BSN."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str) and "error_description" in body:
        text = f"{body['error']}: {body['error_description']}"  # OAuth2 (RFC 6749 §5.2)
    elif isinstance(body, dict):
        # Common shapes: {"message"}, {"error": {"message"}} (OData), {"detail"} (SCIM/problem+json)
        for key in ("message", "Message", "detail", "error_description", "error", "title", "errors"):
            if key in body:
                value = body[key]
                if isinstance(value, dict):
                    value = value.get("message", value)
                    if isinstance(value, dict):
                        value = value.get("value", value)
                text = value if isinstance(value, str) else _json(value)
                break
        else:
            text = _json(body)
    elif body is not None:
        text = body if isinstance(body, str) else _json(body)  # a JSON string: its text, unquoted
    else:
        text = response.text  # httpx decodes with errors="replace": this never raises
    text = " ".join(text.split())
    if len(text) > _MAX_TEXT:
        text = text[:_MAX_TEXT] + "…"
    return redact.text(text)


def for_status(response: httpx.Response, what: str) -> KoppelError | None:
    """The error for a non-2xx answer, or None when the status is a success."""
    status = response.status_code
    if status < 300:
        return None
    reason = error_text(response)
    message = f"{what}: HTTP {status}" + (f": {reason}" if reason else "")
    code = str(status)
    if status >= 500 or status in _TRANSIENT_4XX:
        return TransientError(message, code=code, retry_after=retry_after_seconds(response))
    if status in (401, 403):
        return ConfigError(f"{message} (check the credentials and rights of this system)", code=code)
    if 300 <= status < 400:
        # Redirects are followed; one that is left is a misconfigured base URL.
        return ConfigError(f"{message} (redirect not followed: check the system's url)", code=code)
    return RecordError(message, code=code)


def for_exception(exc: httpx.HTTPError, what: str) -> KoppelError:
    """The error for an httpx exception (no response at all)."""
    kind = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return TransientError(f"{what}: timed out ({kind})", code="timeout")
    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        # The peer's certificate is not trusted: waiting will not fix that; tls.ca_file might.
        return ConfigError(f"{what}: the server's TLS certificate is not trusted (check tls.ca_file)", code="tls")
    if isinstance(exc, (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        detail = redact.text(str(exc))[:200]
        return TransientError(f"{what}: connection failed ({kind}: {detail})", code="connect")
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return ConfigError(f"{what}: invalid URL ({redact.text(str(exc))})")
    if isinstance(exc, httpx.TooManyRedirects):
        return ConfigError(f"{what}: too many redirects (check the system's url)")
    return TransientError(f"{what}: {kind}: {redact.text(str(exc))[:200]}", code="http")


def malformed(what: str, problem: str) -> TransientError:
    """A 2xx whose body does not parse; see the module docstring for why this is transient."""
    return TransientError(f"{what}: malformed response ({problem})", code="malformed")
