"""What every HTTP stand-in shares: the record of received messages and the fault switch.

Control endpoints, on every stand-in (tests and the demo use them; the real systems have none):

    GET    /_sandbox/received          what the stand-in received, newest last
    DELETE /_sandbox/received          forget it
    POST   /_sandbox/faults            {"mode": "slow"|"500"|"429"|"fault"|"reject",
                                        "times": N (default 1; -1 = until cleared),
                                        "delay": seconds (slow), "retry_after": seconds (429),
                                        "match": "substring the request body must contain"}
    DELETE /_sandbox/faults            behave again

"fault" makes a SOAP stand-in answer with a SOAP fault (``code`` in the body, default
``Server.DK0051``); "reject" makes the stand-in refuse one record the way the real system does
(a 4xx with an error body, or a ``Client.*`` SOAP fault). The stand-in's own handler asks
``faults.take(body)`` which fault, if any, applies to this request.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Fault:
    mode: str
    times: int = 1
    delay: float = 2.0
    retry_after: float = 1.0
    match: str | None = None
    code: str | None = None


class Faults:
    """Faults queued by tests; thread-safe because stand-ins may run in threads."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, body: bytes | str = b"") -> Fault | None:
        """The fault that applies to this request (consuming one of its ``times``), or None."""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        with self._lock:
            for fault in self._faults:
                if fault.match and fault.match not in text:
                    continue
                if fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                return fault
        return None


@dataclass
class Received:
    """Messages a stand-in accepted (or refused), for tests and the demo's table."""

    items: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, body: Any, **extra: Any) -> None:
        with self.lock:
            self.items.append({"kind": kind, "body": body, "at": time.time(), **extra})

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


@dataclass
class StandinContext:
    """What a stand-in needs: its settings from catalog.yaml's sandbox environment."""

    name: str
    project_root: Path
    settings: Any  # runtime.models.catalog.SystemEnvironment
    specs_dir: Path
    faults: Faults = field(default_factory=Faults)
    received: Received = field(default_factory=Received)

    def secret(self, reference: str) -> str:
        from runtime import secrets

        return secrets.resolve(reference, base=self.project_root)

    def contract(self, relative: str) -> Path | None:
        """A public contract from ../shared/specs, or None when the specs are absent."""
        path = self.specs_dir / relative
        return path if path.exists() else None


async def apply_common_fault(fault: Fault | None) -> Response | None:
    """Handle the protocol-neutral faults; return the response to send, or None to go on."""
    if fault is None:
        return None
    if fault.mode == "slow":
        await asyncio.sleep(fault.delay)
        return None
    if fault.mode == "500":
        return JSONResponse({"error": "internal server error (sandbox fault)"}, status_code=500)
    if fault.mode == "429":
        return JSONResponse(
            {"error": "too many requests (sandbox fault)"},
            status_code=429,
            headers={"Retry-After": str(int(fault.retry_after) if fault.retry_after >= 1 else fault.retry_after)},
        )
    return None


def control_routes(ctx: StandinContext) -> list[Route]:
    async def received(request: Request) -> Response:
        if request.method == "DELETE":
            ctx.received.clear()
            return Response(status_code=204)
        with ctx.received.lock:
            return JSONResponse(list(ctx.received.items))

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            ctx.faults.clear()
            return Response(status_code=204)
        data = await request.json()
        ctx.faults.add(Fault(**data))
        return JSONResponse({"queued": data}, status_code=201)

    return [
        Route("/_sandbox/received", received, methods=["GET", "DELETE"]),
        Route("/_sandbox/faults", faults, methods=["POST", "DELETE"]),
    ]
