"""The HTTP side of the daemon (Starlette): health, readiness, metrics and inbound webhooks.

    GET  /healthz            the process is alive
    GET  /readyz             200 when ready; 503 with each interface's reason (runtime/engine/health.py)
    GET  /metrics            Prometheus text format
    /ui/...                  the operator console (runtime/console/app.py): sign-in, pages, audited actions
    POST <path>              style json: one JSON object or a non-empty list of objects; stored, then 202
    <path>/Users[/id]        style scim: SCIM 2.0 (RFC 7644) GET (from the SIS), POST (201), PUT/PATCH
    <path>/Groups[/id]       (200), DELETE (204: the account closed, never a person deleted)

The inbound routes are built in runtime/engine/inbound/routes.py: each call is admitted
(credentials, content type, size while streaming, signature, a depth-limited parse; refusals as
RFC 9457 problems or SCIM errors), stored in the durable inbox (``koppel_inbox``) in one
transaction, and only then answered 2xx: a crash after the answer loses nothing. A repeated call
(the same Standard Webhooks ``webhook-id``) is answered 2xx and not stored again. The
interface's run then reads the inbox through the ``webhook`` source. An interface's
``callbacks`` (runtime/engine/callbacks.py) are served the same way, each on its own channel.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route

from runtime.console.app import console_app
from runtime.engine.inbound.routes import inbound_routes

log = logging.getLogger("koppel.server")


class DaemonState:
    """What /readyz reports; the daemon flips these."""

    def __init__(self) -> None:
        self.started = True
        self.draining = False
        self.health: Any = None  # the daemon's Health (runtime/engine/health.py); else a plain one


def create_app(engine, *, metrics=None, state: DaemonState | None = None,
               on_received: Callable[[int], None] | None = None, lifespan=None) -> Starlette:
    from runtime.engine.metrics import Metrics

    metrics = metrics or engine.metrics or Metrics(engine.store)
    state = state or DaemonState()
    routes: list[BaseRoute] = [
        Route("/healthz", lambda r: JSONResponse({"status": "ok"})),
        Route("/readyz", _ready(engine, state)),
        Route("/metrics", lambda r: PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")),
    ]
    routes.append(Mount("/ui", app=console_app(engine, state)))  # the operator console (runtime/console/)
    routes += inbound_routes(engine, metrics, on_received)
    return Starlette(routes=routes, lifespan=lifespan)


def _ready(engine, state: DaemonState):
    def ready(request: Request) -> JSONResponse:
        from runtime.engine.health import Health  # readiness is the daemon's (health.py)

        health = getattr(state, "health", None) or Health(engine, state)
        status, body = health.report()
        return JSONResponse(body, status_code=status)

    return ready
