"""One inbound route: admit a call (credentials, content type, size, signature, parse), then
store its records in the durable inbox before answering.

``Webhook.admit()`` is the order every call goes through (see runtime/engine/inbound/__init__.py);
each step raises ``Refusal`` and nothing is stored. ``Webhook.json`` serves style ``json``:
one JSON object or a non-empty list of objects, each with a key at the spec's ``key``
expression; answered 202 once stored, or 200 without storing when the call's id (Standard
Webhooks' ``webhook-id``, a Signhost postback's bytes) was accepted before.
Database work runs in a worker thread, so one slow commit does not hold up other calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from runtime.engine.inbound import problem
from runtime.engine.inbound.body import (
    JSON_TYPES,
    MAX_DEPTH,
    Refusal,
    check_content_type,
    parse_json,
    read_limited,
    record_key,
)
from runtime.engine.inbound.replay import store_once
from runtime.engine.inbound_auth import verifier

log = logging.getLogger("koppel.server")


def inbound_auth(engine, interface, spec):
    """The spec's own ``auth``, else the calling system's ``inbound_auth`` for this environment
    (catalog.yaml), so each environment has its own secret and the interface file stays the same."""
    from runtime.errors import ConfigError

    if spec.auth is not None:
        return spec.auth
    system = engine.context(interface, spec).system
    if system is None or system.inbound_auth is None:
        raise ConfigError(
            f"interface {interface.id}: webhook {spec.path} has no authentication: give it `auth:` or give "
            f"system '{spec.system}' an `inbound_auth` for environment '{engine.environment}' in catalog.yaml"
        )
    return system.inbound_auth


class Webhook:
    content_types: tuple[str, ...] = JSON_TYPES

    def __init__(self, engine, interface, metrics, on_received: Callable[[int], None] | None, spec=None, *,
                 channel: str | None = None) -> None:
        import jmespath

        self.engine, self.interface, self.metrics = engine, interface, metrics
        self.spec = spec or interface.source
        self.channel = channel  # None: the interface's webhook source; "callback:<name>": a callback
        self.verifier = verifier(inbound_auth(engine, interface, self.spec), engine.project.root)
        self.key = jmespath.compile(self.spec.key)
        self.on_received = on_received or (lambda iid: None)

    # -- admission -----------------------------------------------------------------------------

    def authorise_headers(self, request: Request) -> None:
        if not self.verifier.headers_ok(request.headers):
            raise Refusal(401, "unauthorised")

    async def admit(self, request: Request) -> tuple[bytes, Any]:
        """(body, parsed body); for Signhost's registration test (an empty body) parsed is None."""
        self.authorise_headers(request)
        check_content_type(request, self.content_types)
        body = await read_limited(request, self.spec.max_body)
        if self.verifier.empty_ok and not body.strip():
            return body, None
        data = parse_json(body, max_depth=MAX_DEPTH) if self.verifier.needs_data else None
        if not self.verifier.body_ok(request.headers, body, data):
            raise Refusal(401, "unauthorised")
        return body, (data if data is not None else parse_json(body, max_depth=MAX_DEPTH))

    # -- answers -------------------------------------------------------------------------------

    def count(self, status: int) -> None:
        self.metrics.webhooks.labels(str(self.interface.id), str(status)).inc()

    def refuse(self, refusal: Refusal, request: Request) -> Response:
        self.count(refusal.status)
        if refusal.status >= 500:
            log.error("webhook %s of interface %s: %s", request.url.path, self.interface.id, refusal.detail,
                      extra={"interface": self.interface.id})
        return problem.problem(refusal.status, refusal.detail, instance=request.url.path)

    def ok(self, status: int, body: Any, media_type: str | None = None, headers: dict | None = None) -> Response:
        self.count(status)
        if body is None:
            return Response(status_code=status)
        return JSONResponse(body, status_code=status, media_type=media_type, headers=headers)

    async def store(self, rows: list[tuple], *, message_id: str | None = None) -> bool:
        from runtime.dberrors import database_outage
        from runtime.errors import TransientError

        try:
            with database_outage("the webhook inbox (state database)"):
                stored = await run_in_threadpool(store_once, self.engine.store, self.interface.id, rows,
                                                 message_id=message_id, channel=self.channel)
        except TransientError:
            raise Refusal(503, "the inbox is unavailable; send the call again later") from None
        if stored:
            self.on_received(self.interface.id)
        return stored

    # -- style json ----------------------------------------------------------------------------

    async def json(self, request: Request) -> Response:
        try:
            body, data = await self.admit(request)
            if data is None:  # Signhost's test call when the postback URL is registered
                return self.ok(200, {"accepted": 0})
            rows = self.rows(with_path_params(data, request.path_params))
            stored = await self.store(rows, message_id=self.verifier.message_id(request.headers, body))
        except Refusal as refusal:
            return self.refuse(refusal, request)
        if not stored:
            return self.ok(200, {"accepted": 0, "repeated": True})
        return self.ok(202, {"accepted": len(rows)})

    def rows(self, data: Any) -> list[tuple[str, Any, str, None]]:
        if isinstance(data, dict):
            records, where = [data], lambda i: self.spec.key
        elif isinstance(data, list):
            if not data:
                raise Refusal(400, "the body is an empty list; send an object or a list of objects")
            records, where = data, lambda i: f"[{i}].{self.spec.key}"
        else:
            raise Refusal(400, f"the body is a JSON {_kind(data)}; send an object or a list of objects")
        rows = []
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise Refusal(400, f"record [{index}] is a JSON {_kind(record)}, not an object")
            rows.append((record_key(self.key.search(record), where(index)), record, "upsert", None))
        return rows


def with_path_params(data: Any, params: dict[str, str]) -> Any:
    """The body with the path's ``{name}`` values as fields (``PATCH /associations/{associationId}``):
    a body that names another value for one of them is refused, never silently overruled."""
    if not params or not isinstance(data, dict):
        return data
    for name, value in params.items():
        if name in data and str(data[name]) != value:
            raise Refusal(400, f"the body's {name} differs from the one in the path")
    return {**data, **params}


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", bool: "boolean", str: "string", int: "number", float: "number"}.get(
        type(value), "null" if value is None else type(value).__name__)
