"""Authentication of inbound webhook calls, one scheme per interface (runtime/models/auth.py).

Secrets are resolved once when the server starts (and so registered for masking). Every check
compares in constant time. A failed check answers 401 without saying what was wrong.
Mutual TLS is terminated by the proxy in front of Koppel, which passes the client certificate's
subject in a header (``MutualTlsAuth.header``); Koppel checks it against the allowed subjects.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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
    if kind == "mutual_tls":
        allowed, header = set(auth.subjects), auth.header.lower()
        return lambda headers, body: headers.get(header) in allowed
    raise ValueError(f"unknown inbound auth type {kind}")
