"""Authentication of inbound webhook calls, one scheme per interface (runtime/models/auth.py).

Secrets are resolved once when the server starts (and so registered for masking). Every check
compares in constant time. A failed check answers 401 without saying what was wrong.
Signhost's postbacks carry a checksum over the body's ``Id`` and ``Status`` (``signhost_checksum``),
not a signature over the bytes: the checker reads those two from the JSON body.
Mutual TLS is terminated by the proxy in front of Koppel, which passes the client certificate's
subject in a header (``MutualTlsAuth.header``); Koppel checks it against the allowed subjects.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping

from runtime.secrets import resolve

Check = Callable[[Mapping[str, str], bytes], bool]


def _eq(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


def checker(auth, project_root) -> Check:
    kind = auth.type
    if kind == "none":
        return lambda headers, body: True
    if kind == "bearer":
        token = resolve(auth.token, base=project_root)
        return lambda headers, body: _eq(headers.get("authorization"), f"Bearer {token}")
    if kind == "api_key":
        expected = {name.lower(): auth.prefixes.get(name, "") + resolve(ref, base=project_root)
                    for name, ref in auth.headers.items()}
        return lambda headers, body: all(_eq(headers.get(k), v) for k, v in expected.items())
    if kind == "basic":
        password = resolve(auth.password, base=project_root)
        value = "Basic " + base64.b64encode(f"{auth.username}:{password}".encode()).decode()
        return lambda headers, body: _eq(headers.get("authorization"), value)
    if kind == "hmac":
        secret = resolve(auth.secret, base=project_root).encode()
        algorithm = getattr(hashlib, auth.algorithm)
        header, prefix = auth.header.lower(), auth.prefix

        def check_hmac(headers, body: bytes) -> bool:
            digest = hmac.new(secret, body, algorithm).hexdigest()
            given = headers.get(header)
            return given is not None and hmac.compare_digest(given.strip().lower().encode(), (prefix + digest).lower().encode())

        return check_hmac
    if kind == "signhost_checksum":
        return _signhost_checker(resolve(auth.secret, base=project_root), auth.header.lower())
    if kind == "mutual_tls":
        allowed, header = set(auth.subjects), auth.header.lower()
        return lambda headers, body: headers.get(header) in allowed
    raise ValueError(f"unknown inbound auth type {kind}")


def _signhost_checker(secret: str, header: str) -> Check:
    def check_signhost(headers, body: bytes) -> bool:
        try:
            data = json.loads(body)
        except ValueError:
            return False
        if not isinstance(data, dict):
            return False
        transaction_id, status = data.get("Id"), data.get("Status")
        if not isinstance(transaction_id, str) or not transaction_id or isinstance(status, bool) \
                or not isinstance(status, (int, str)) or str(status) == "":
            return False
        expected = hashlib.sha1(f"{transaction_id}||{status}|{secret}".encode()).hexdigest()
        given = [g for g in (headers.get(header), data.get("Checksum")) if g is not None]
        # every checksum that was sent must match, and at least one must have been sent
        return bool(given) and all(isinstance(g, str) and hmac.compare_digest(g.strip().lower().encode(), expected.encode())
                                   for g in given)

    return check_signhost
