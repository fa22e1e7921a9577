"""The aanmeldmodule's webhooks (interface 6): applications outside Centraal Aanmelden, posted
to Koppel as JSON signed the Standard Webhooks way (sandbox/rest/webhooks.py).

    from sandbox.rest.aanmeldmodule import push_applications
    push_applications(project_root, count=3)        # → [{"aanmeldId", "status", "error"}]

Each application is one ``POST {koppel_url}/hooks/aanmeldmodule`` (``koppel_url`` from the
aanmeldmodule's sandbox options, default http://127.0.0.1:8470) with headers
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (secret
sandbox/secrets/aanmeldmodule-webhook-secret), ``X-Aanmeldmodule-Event: aanmelding`` and
``X-Aanmeldmodule-Delivery: <aanmeldId>``. A repeat (``repeat``) is the same message again, with
the same ``webhook-id``: Koppel answers it 2xx and stores it once. The body has the shape of a Centraal Aanmelden
application (see centraal_aanmelden.py) with ``aanmeldId`` ``AM-<year>-<n>`` and
``"kanaal": "aanmeldmodule"``. The same ``seed``/``start`` gives the same applicants.

The aanmeldmodule's other half (the catalogue over SFTP, interface 5) is the sshd's.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sandbox.rest import applications, webhooks

SECRET_REFERENCE = "${file:sandbox/secrets/aanmeldmodule-webhook-secret}"
HOOK_PATH = "/hooks/aanmeldmodule"


def application(index: int, *, seed: int | str = 6, at: float | None = None) -> dict[str, Any]:
    data = applications.application(seed, index, at or time.time(), prefix="AM")
    data["kanaal"] = "aanmeldmodule"
    return data


def push_applications(project_root: Path, count: int = 3, *, start: int = 0, seed: int | str = 6,
                      koppel_url: str | None = None, secret: str | None = None, timeout: float = 10.0,
                      tamper: bool = False, repeat: int = 1) -> list[dict[str, Any]]:
    """Post ``count`` signed applications to Koppel; what Koppel answered for each.

    ``tamper`` signs other bytes than it sends (Koppel must refuse it); ``repeat`` sends each
    application that many times (Koppel must store it once).
    """
    import httpx

    from runtime import secrets

    project_root = Path(project_root)
    if koppel_url is None:
        koppel_url = _configured_koppel_url(project_root)
    key = secret if secret is not None else secrets.resolve(SECRET_REFERENCE, base=project_root)
    url = koppel_url.rstrip("/") + HOOK_PATH
    results = []
    with httpx.Client(timeout=timeout) as client:
        for index in range(start, start + count):
            payload = application(index, seed=seed)
            body = webhooks.encode(payload)
            signed = body + b" " if tamper else body  # "tamper": sign other bytes than those sent
            headers = {**webhooks.standard_webhook_headers(key, body, signed_body=signed),
                       "X-Aanmeldmodule-Event": "aanmelding", "X-Aanmeldmodule-Delivery": payload["aanmeldId"],
                       "Content-Type": "application/json"}
            for _ in range(max(1, repeat)):
                try:
                    status, error = client.post(url, content=body, headers=headers).status_code, None
                except httpx.HTTPError as exc:
                    status, error = None, type(exc).__name__
                results.append({"aanmeldId": payload["aanmeldId"], "status": status, "error": error})
    return results


def _configured_koppel_url(project_root: Path) -> str:
    try:
        from sandbox.runner import load_catalog

        env = load_catalog(project_root).systems["aanmeldmodule"].environments["sandbox"]
        return str((env.options or {}).get("koppel_url") or webhooks.DEFAULT_KOPPEL_URL)
    except Exception:  # noqa: BLE001 - a catalog problem must not stop the demo's pusher
        return webhooks.DEFAULT_KOPPEL_URL
