"""Authentication of inbound webhook calls, one scheme per interface (runtime/models/auth.py).

A scheme is a ``Verifier`` with three steps, so the server can refuse as early as possible:

- ``headers_ok(headers)``: before a byte of the body is read. Header-only credentials (bearer,
  basic, API key, the proxy's mutual-TLS subject) are checked in full here; signature schemes
  check that their headers are there (and Standard Webhooks that the timestamp is fresh), so an
  unsigned 200 MB body is refused without reading it.
- ``body_ok(headers, body, data)``: the signature over the raw bytes, before they are parsed.
  Signhost's checksum covers ``Id`` and ``Status`` of the parsed body instead (``needs_data``).
- ``message_id(headers, body)``: what identifies the call for de-duplication (runtime/engine/
  inbound/replay.py), or None where the scheme has nothing to tell a repeat from a new call.

Standard Webhooks is Koppel's own scheme (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``; verified by the ``standardwebhooks`` package). Where a vendor defines its
own scheme Koppel keeps it: Signhost's postbacks carry a checksum, no timestamp and no id, so a
repeat is recognised by the SHA-256 of its exact bytes (Signhost sends a new postback, with other
bytes, for every change, also when the transaction's status stays the same). A partner's plain
HMAC is treated the same way: the signature covers the exact bytes and nothing else, so a
captured call can only be sent again byte for byte, and those bytes are its id. A repeat is
stored once while its id is kept (a week, runtime/engine/inbound/replay.py); a scheme without a
timestamp cannot refuse a replay older than that, which is why Koppel's own scheme is Standard
Webhooks. Header-only credentials (bearer, basic, API key) sign nothing: a repeat of their body
cannot be told from a new call, and ``message_id`` stays None.

Secrets are resolved once when the server starts (and so registered for masking). Every check
compares in constant time. A failed check answers 401 without saying what was wrong.
Mutual TLS is terminated by the proxy in front of Koppel, which passes the client certificate's
subject in a header (``MutualTlsAuth.header``); Koppel checks it against the allowed subjects.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any

from runtime.errors import ConfigError
from runtime.secrets import resolve

Headers = Mapping[str, str]


def _eq(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


class Verifier:
    """No authentication (``type: none``); the base of the others."""

    needs_data = False  # body_ok needs the parsed body (Signhost)
    empty_ok = False  # an empty body is answered 200 and not stored (Signhost's registration test)

    def headers_ok(self, headers: Headers) -> bool:
        return True

    def body_ok(self, headers: Headers, body: bytes, data: Any = None) -> bool:
        return True

    def message_id(self, headers: Headers, body: bytes) -> str | None:
        return None


class HeaderCredential(Verifier):
    """Bearer, basic, API key, mutual TLS: everything is in the headers."""

    def __init__(self, check: Callable[[Headers], bool]) -> None:
        self.check = check

    def headers_ok(self, headers: Headers) -> bool:
        return self.check(headers)


class HmacSignature(Verifier):
    """A partner's plain HMAC over the raw body, in one header (no timestamp, no id): a repeat is
    known by the SHA-256 of the signed bytes."""

    def __init__(self, secret: bytes, algorithm: str, header: str, prefix: str) -> None:
        self.secret, self.algorithm, self.header, self.prefix = secret, getattr(hashlib, algorithm), header, prefix

    def headers_ok(self, headers: Headers) -> bool:
        return bool(headers.get(self.header))

    def body_ok(self, headers: Headers, body: bytes, data: Any = None) -> bool:
        digest = hmac.new(self.secret, body, self.algorithm).hexdigest()
        given = headers.get(self.header)
        return given is not None and hmac.compare_digest(given.strip().lower().encode(),
                                                         (self.prefix + digest).lower().encode())

    def message_id(self, headers: Headers, body: bytes) -> str | None:
        return "sha256:" + hashlib.sha256(body).hexdigest()


class StandardWebhooks(Verifier):
    """Standard Webhooks: signature over id, timestamp and body; stale timestamps refused."""

    HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")

    def __init__(self, secret: str, tolerance: int) -> None:
        from standardwebhooks.webhooks import Webhook

        try:
            self.webhook = Webhook(secret)
        except (binascii.Error, ValueError) as exc:
            raise ConfigError("standard_webhooks: the secret must be 'whsec_' followed by base64") from exc
        self.tolerance = tolerance

    def headers_ok(self, headers: Headers) -> bool:
        if not all(headers.get(h) for h in self.HEADERS):
            return False
        try:
            stamp = int(headers["webhook-timestamp"])
        except ValueError:
            return False
        return abs(time.time() - stamp) <= self.tolerance  # expired or post-dated: refused unread

    def body_ok(self, headers: Headers, body: bytes, data: Any = None) -> bool:
        from standardwebhooks.webhooks import WebhookVerificationError

        try:
            self.webhook.verify(body, {h: headers[h] for h in self.HEADERS}, json_parse=False)
        except (WebhookVerificationError, ValueError, binascii.Error, KeyError):
            return False  # bad signature, malformed signature list, body not UTF-8
        return True

    def message_id(self, headers: Headers, body: bytes) -> str | None:
        return headers.get("webhook-id")


class SignhostChecksum(Verifier):
    """``Checksum = sha1_hex(Id || Status | secret)``, in the body and/or a header."""

    needs_data = True
    empty_ok = True

    def __init__(self, secret: str, header: str) -> None:
        self.secret, self.header = secret, header

    def body_ok(self, headers: Headers, body: bytes, data: Any = None) -> bool:
        if not isinstance(data, dict):
            return False
        transaction_id, status = data.get("Id"), data.get("Status")
        if not isinstance(transaction_id, str) or not transaction_id or isinstance(status, bool) \
                or not isinstance(status, (int, str)) or str(status) == "":
            return False
        expected = hashlib.sha1(f"{transaction_id}||{status}|{self.secret}".encode()).hexdigest()
        given = [g for g in (headers.get(self.header), data.get("Checksum")) if g is not None]
        # every checksum that was sent must match, and at least one must have been sent
        return bool(given) and all(isinstance(g, str) and hmac.compare_digest(g.strip().lower().encode(), expected.encode())
                                   for g in given)

    def message_id(self, headers: Headers, body: bytes) -> str | None:
        return "sha256:" + hashlib.sha256(body).hexdigest()


def verifier(auth, project_root) -> Verifier:
    kind = auth.type
    if kind == "none":
        return Verifier()
    if kind == "bearer":
        token = resolve(auth.token, base=project_root)
        return HeaderCredential(lambda headers: _eq(headers.get("authorization"), f"Bearer {token}"))
    if kind == "api_key":
        expected = {name.lower(): auth.prefixes.get(name, "") + resolve(ref, base=project_root)
                    for name, ref in auth.headers.items()}
        return HeaderCredential(lambda headers: all(_eq(headers.get(k), v) for k, v in expected.items()))
    if kind == "basic":
        password = resolve(auth.password, base=project_root)
        value = "Basic " + base64.b64encode(f"{auth.username}:{password}".encode()).decode()
        return HeaderCredential(lambda headers: _eq(headers.get("authorization"), value))
    if kind == "mutual_tls":
        allowed, header = set(auth.subjects), auth.header.lower()
        return HeaderCredential(lambda headers: headers.get(header) in allowed)
    if kind == "hmac":
        return HmacSignature(resolve(auth.secret, base=project_root).encode(), auth.algorithm,
                             auth.header.lower(), auth.prefix)
    if kind == "standard_webhooks":
        return StandardWebhooks(resolve(auth.secret, base=project_root), auth.tolerance)
    if kind == "signhost_checksum":
        return SignhostChecksum(resolve(auth.secret, base=project_root), auth.header.lower())
    raise ValueError(f"unknown inbound auth type {kind}")


def checker(auth, project_root) -> Callable[[Headers, bytes], bool]:
    """All steps at once, for callers that hold the whole body: ``check(headers, body)``."""
    import json

    v = verifier(auth, project_root)

    def check(headers: Headers, body: bytes) -> bool:
        data = None
        if v.needs_data:
            try:
                data = json.loads(body)
            except (ValueError, RecursionError):
                return False
        return v.headers_ok(headers) and v.body_ok(headers, body, data)

    return check
