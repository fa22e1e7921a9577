"""A test HTTP target on 127.0.0.1 that misbehaves on purpose, and a small plugin that talks to it.

The server takes POST /items with a JSON list of {key, source_key, payload} (or one object with
an ``Idempotency-Key`` header) and answers per item. It fails a set fraction of requests with
503 + Retry-After, rejects chosen source keys with 422, and applies each idempotency key once:
a repeat is answered 200 but counted as a duplicate, never applied again.
"""

from __future__ import annotations

import json
import random
import sys
import threading
from collections.abc import Sequence
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Literal

# the JSON answering is faultkit's (tests/faultkit/proxy.py); this file is also run from worker
# processes that only have tests/engine on their path
_FAULTKIT = str(Path(__file__).resolve().parents[1] / "faultkit")
if _FAULTKIT not in sys.path:
    sys.path.append(_FAULTKIT)

from proxy import JsonHandler  # noqa: E402

from runtime.errors import RecordError, TransientError  # noqa: E402
from runtime.models.interface import TargetSpecBase  # noqa: E402
from runtime.plugin import Item, Outcome, Plugin, Target  # noqa: E402


class TargetState:
    def __init__(self, transient_fraction: float = 0.0, reject: set[str] | None = None, seed: int = 7) -> None:
        self.transient_fraction = transient_fraction
        self.reject = set(reject or ())
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.applied: dict[str, dict] = {}  # idempotency key → item
        self.source_keys: dict[str, int] = {}  # source key → times applied
        self.duplicates = 0
        self.requests = 0
        self.failed_requests = 0
        self.bodies: list[str] = []
        self.keep_bodies = False
        self.arrivals: list[tuple[float, dict]] = []


class _Handler(JsonHandler):
    state: TargetState

    def do_POST(self) -> None:
        import time

        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        s = self.state
        with s.lock:
            s.requests += 1
            if s.keep_bodies:
                s.bodies.append(body.decode())
            if s.rng.random() < s.transient_fraction:
                s.failed_requests += 1
                self._send(503, {"error": "try later"}, {"Retry-After": "0"})
                return
            data = json.loads(body)
            single = isinstance(data, dict)
            if single:  # one record per call, as the rest plugin sends it: the body is the payload
                key = self.headers.get("Idempotency-Key") or ""
                source_key = data.get("source_key") or data.get("id") or key.split(":")[0]
                items = [{"key": key, "source_key": source_key, "payload": data}]
            else:
                items = data
            results = []
            now = time.time()
            for item in items:
                if item.get("source_key") in s.reject:
                    results.append({"status": 422, "error": "rejected"})
                    continue
                key = item["key"]
                if key in s.applied:
                    s.duplicates += 1
                else:
                    s.applied[key] = item
                    sk = item.get("source_key")
                    s.source_keys[sk] = s.source_keys.get(sk, 0) + 1
                    s.arrivals.append((now, item))
                results.append({"status": 200, "ref": f"MSG-{key}"})
            if single:
                self._send(results[0]["status"], results[0] if results[0]["status"] == 200 else {"error": "rejected"})
            else:
                self._send(200, results)


def start_server(state: TargetState) -> tuple[ThreadingHTTPServer, str]:
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class HttpTestTargetSpec(TargetSpecBase):
    type: Literal["httptest"]
    url: str
    batch: bool = True


class HttpTestTarget(Target):
    def __init__(self, spec, ctx) -> None:
        self.spec = spec
        self.client = None

    def open(self) -> None:
        import httpx

        self.client = httpx.Client(timeout=10)

    def close(self) -> None:
        if self.client:
            self.client.close()

    def write(self, items: Sequence[Item]) -> list[Outcome]:
        import httpx

        body = [{"key": i.key, "source_key": i.source_key, "payload": i.payload} for i in items]
        try:
            if self.spec.batch:
                r = self.client.post(f"{self.spec.url}/items", json=body)
            else:
                return [self._one(b) for b in body]
        except httpx.TransportError as exc:
            raise TransientError(f"cannot reach target: {type(exc).__name__}") from exc
        self._raise_for(r)
        return [self._outcome(x) for x in r.json()]

    def _one(self, body: dict) -> Outcome:
        r = self.client.post(f"{self.spec.url}/items", json=body, headers={"Idempotency-Key": body["key"]})
        if r.status_code >= 500:
            return Outcome(error=TransientError(f"HTTP {r.status_code}", code=str(r.status_code)))
        return self._outcome(r.json())

    @staticmethod
    def _raise_for(r) -> None:
        if r.status_code in (429, 502, 503, 504) or r.status_code >= 500:
            ra = r.headers.get("Retry-After")
            raise TransientError(f"HTTP {r.status_code}", code=str(r.status_code), retry_after=float(ra) if ra else None)

    @staticmethod
    def _outcome(x: dict) -> Outcome:
        if x["status"] == 200:
            return Outcome(reference=x["ref"], response=x)
        return Outcome(error=RecordError("target rejected the record", code=str(x["status"])))


def plugin() -> Plugin:
    return Plugin("httptest", "test HTTP target", target_spec=HttpTestTargetSpec,
                  create_target=lambda s, c: HttpTestTarget(s, c))
