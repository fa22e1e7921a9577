"""Calls the stand-ins make to Koppel: webhooks signed the Standard Webhooks way, and
Signhost postbacks with Signhost's own checksum.

Standard Webhooks (https://www.standardwebhooks.com, signed with the ``standardwebhooks``
package, as Koppel verifies): ``webhook-id`` (one per message; a retry of the message keeps it),
``webhook-timestamp`` (Unix seconds) and ``webhook-signature: v1,<base64 HMAC-SHA256 of
id.timestamp.body>`` with the shared ``whsec_`` secret.

Koppel's webhook server listens on ``options.koppel_url`` (default http://127.0.0.1:8470); the
hook paths are agreed in sandbox/README.md. Every call is recorded in the stand-in's
``received`` as ``sent`` with the status Koppel answered, so a test or the demo can see it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from sandbox.standin import StandinContext

DEFAULT_KOPPEL_URL = "http://127.0.0.1:8470"


def koppel_url(ctx: StandinContext) -> str:
    return str((ctx.settings.options or {}).get("koppel_url") or DEFAULT_KOPPEL_URL).rstrip("/")


def hmac_signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 over the raw body (header ``X-Signature``)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_webhook_headers(secret: str, body: bytes, *, message_id: str | None = None,
                             timestamp: float | None = None, signed_body: bytes | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``. ``signed_body`` signs other bytes than
    are sent (a forged call); ``timestamp`` back-dates it (a stale replay)."""
    import datetime as dt
    import uuid

    from standardwebhooks.webhooks import Webhook

    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    moment = dt.datetime.fromtimestamp(time.time() if timestamp is None else timestamp, tz=dt.UTC)
    signature = Webhook(secret).sign(message_id, moment, (body if signed_body is None else signed_body).decode())
    return {"webhook-id": message_id, "webhook-timestamp": str(int(moment.timestamp())), "webhook-signature": signature}


def signhost_checksum(transaction_id: str, status: int | str, secret: str) -> str:
    """Signhost's postback checksum: plain SHA-1 of ``id || status | secret``, lowercase hex."""
    return hashlib.sha1(f"{transaction_id}||{status}|{secret}".encode()).hexdigest()


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


async def post(ctx: StandinContext, url: str, body: bytes, headers: dict[str, str], *, kind: str,
               payload: Any = None, timeout: float = 10.0) -> int | None:
    """POST ``body`` to Koppel; the answered status, or None when Koppel could not be reached."""
    import httpx

    status: int | None
    error = None
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.post(url, content=body, headers={"Content-Type": "application/json", **headers})
        status = response.status_code
    except httpx.HTTPError as exc:
        status, error = None, type(exc).__name__
    ctx.received.add("sent", payload, to=url, what=kind, status=status, error=error)
    return status
