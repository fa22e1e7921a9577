"""The HTTP side of the daemon (Starlette): health, readiness, metrics and inbound webhooks.

    GET  /healthz            the process is alive
    GET  /readyz             200 when ready; 503 with each interface's reason (runtime/engine/health.py)
    GET  /metrics            Prometheus text format
    POST <path>              style json: one JSON object or a list; every record stored, then 202
    <path>/Users[/id]        style scim: SCIM 2.0 POST (201), PUT/PATCH (200), DELETE (204);
    <path>/Groups[/id]       GET answers an empty ListResponse (Koppel keeps no SCIM directory)

A webhook call is authenticated (inbound_auth), stored in the durable inbox (``koppel_inbox``) in
one transaction, and only then answered 2xx: a crash after the answer loses nothing. The
interface's run then reads the inbox through the ``webhook`` source.

An interface's ``callbacks`` (runtime/engine/callbacks.py) are served the same way, style json,
each stored on its own inbox channel. Signhost's portal tests a postback URL with an empty POST
when it is registered: with ``signhost_checksum`` auth an empty body is answered 200 and nothing
is stored (there is nothing to authenticate or keep); any other body must carry a valid checksum.
Two routes on one path are a definition error (``koppel validate``); here the first one wins.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from runtime.engine.inbound_auth import checker
from runtime.errors import KoppelError

log = logging.getLogger("koppel.server")
SCIM_TYPE = "application/scim+json"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


class DaemonState:
    """What /readyz reports; the daemon flips these."""

    def __init__(self) -> None:
        self.started = True
        self.draining = False


def create_app(engine, *, metrics=None, state: DaemonState | None = None,
               on_received: Callable[[int], None] | None = None, lifespan=None) -> Starlette:
    from runtime.engine.metrics import Metrics

    metrics = metrics or engine.metrics or Metrics(engine.store)
    state = state or DaemonState()
    routes = [
        Route("/healthz", lambda r: JSONResponse({"status": "ok"})),
        Route("/readyz", _ready(engine, state)),
        Route("/metrics", lambda r: PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")),
    ]
    from runtime.engine.pipeline import sources_of

    from runtime.engine.callbacks import callback_names, callbacks_of

    active = [(iid, interface) for iid, interface in sorted(engine.project.interfaces.items())
              if interface.status == "active"]
    hooks = [(iid, interface, spec, None) for iid, interface in active
             for spec in sources_of(interface) if spec.type == "webhook"]
    hooks += [(iid, interface, callback.source, name) for iid, interface in active
              for name, callback in zip(callback_names(interface), callbacks_of(interface))]
    served: set[str] = set()
    for iid, interface, spec, channel in hooks:
        if spec.style != "scim" and spec.path in served:
            log.error("webhook %s of interface %s not served: the path is taken", spec.path, iid, extra={"interface": iid})
            continue
        try:
            hook = Webhook(engine, interface, metrics, on_received, spec, channel=channel)
        except KoppelError as exc:  # one misconfigured webhook must not take the others down
            log.error("webhook of interface %s not served: %s", iid, exc, extra={"interface": iid})
            continue
        served.add(spec.path)
        if spec.style == "scim":
            for resource in ([spec.resource] if spec.resource else ["User", "Group"]):
                base = spec.path.rstrip("/")
                if not base.endswith(f"/{resource}s"):  # the path names the SCIM base or the collection
                    base = f"{base}/{resource}s"
                routes.append(Route(base, hook.scim_collection(resource), methods=["GET", "POST"]))
                routes.append(Route(base + "/{rid}", hook.scim_item(resource), methods=["GET", "PUT", "PATCH", "DELETE"]))
        else:
            routes.append(Route(spec.path, hook.json, methods=["POST", "PUT"]))
    return Starlette(routes=routes, lifespan=lifespan)


def _ready(engine, state: DaemonState):
    def ready(request: Request) -> JSONResponse:
        from runtime.engine.health import Health  # readiness is the daemon's (health.py)

        health = getattr(state, "health", None) or Health(engine, state)
        status, body = health.report()
        return JSONResponse(body, status_code=status)

    return ready


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
    def __init__(self, engine, interface, metrics, on_received, spec=None, *, channel: str | None = None) -> None:
        import jmespath

        self.engine, self.interface, self.metrics = engine, interface, metrics
        self.spec = spec or interface.source
        self.channel = channel  # None: the interface's webhook source; "callback:<name>": a callback
        auth = inbound_auth(engine, interface, self.spec)
        self.check = checker(auth, engine.project.root)
        self.empty_ok = auth.type == "signhost_checksum"  # the portal's test call when the URL is registered
        self.key = jmespath.compile(self.spec.key)
        self.on_received = on_received or (lambda iid: None)

    async def _body(self, request: Request) -> bytes | Response:
        if int(request.headers.get("content-length") or 0) > self.spec.max_body:
            return self._fail(413, "body too large")
        body = await request.body()
        if len(body) > self.spec.max_body:
            return self._fail(413, "body too large")
        if self.empty_ok and not body.strip():
            return self._ok(200, {"accepted": 0})
        if not self.check(request.headers, body):
            return self._fail(401, "unauthorised")
        return body

    def _fail(self, status: int, message: str) -> Response:
        self.metrics.webhooks.labels(str(self.interface.id), str(status)).inc()
        if self.spec.style == "scim":
            return JSONResponse({"schemas": [SCIM_ERROR], "status": str(status), "detail": message},
                                status_code=status, media_type=SCIM_TYPE)
        return JSONResponse({"error": message}, status_code=status)

    def _store(self, rows: list[tuple[str | None, object, str, str | None]]) -> None:
        from runtime.engine.state.store import utcnow

        self.engine.store.inbox_add_many(self.interface.id, rows, received_at=utcnow(), channel=self.channel)
        self.on_received(self.interface.id)

    def _ok(self, status: int, body, media_type: str | None = None) -> Response:
        self.metrics.webhooks.labels(str(self.interface.id), str(status)).inc()
        if body is None:
            return Response(status_code=status)
        return JSONResponse(body, status_code=status, media_type=media_type)

    async def json(self, request: Request) -> Response:
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        try:
            data = json.loads(body)
        except ValueError:
            return self._fail(400, "the body is not JSON")
        records = data if isinstance(data, list) else [data]
        rows = []
        for record in records:
            key = self.key.search(record) if isinstance(record, dict) else None
            if key in (None, ""):
                return self._fail(422, f"a record has no key at '{self.spec.key}'")
            rows.append((str(key), record, "upsert", None))
        self._store(rows)
        return self._ok(202, {"accepted": len(rows)})

    # -- SCIM 2.0 ------------------------------------------------------------------------------

    def scim_collection(self, resource: str):
        async def handler(request: Request) -> Response:
            body = await self._body(request)
            if isinstance(body, Response):
                return body
            if request.method == "GET":
                return self._ok(200, {"schemas": [SCIM_LIST], "totalResults": 0, "Resources": [],
                                      "startIndex": 1, "itemsPerPage": 0}, SCIM_TYPE)
            data = self._scim_json(body)
            if isinstance(data, Response):
                return data
            key = self.key.search(data) or data.get("id") or str(uuid.uuid4())
            data = {**data, "id": str(key)}
            self._store([(str(key), data, "upsert", resource)])
            return self._ok(201, self._echo(data, resource, request), SCIM_TYPE)

        return handler

    def scim_item(self, resource: str):
        async def handler(request: Request) -> Response:
            body = await self._body(request)
            if isinstance(body, Response):
                return body
            rid = request.path_params["rid"]
            if request.method == "GET":
                return self._fail(404, "Koppel stores what it receives; it does not serve resources")
            if request.method == "DELETE":
                self._store([(rid, {"id": rid}, "delete", resource)])
                return self._ok(204, None)
            data = self._scim_json(body)
            if isinstance(data, Response):
                return data
            data = {**data, "id": rid}
            self._store([(rid, data, "patch" if request.method == "PATCH" else "upsert", resource)])
            return self._ok(200, self._echo(data, resource, request), SCIM_TYPE)

        return handler

    def _scim_json(self, body: bytes):
        try:
            data = json.loads(body)
        except ValueError:
            return self._fail(400, "invalidSyntax: the body is not JSON")
        if not isinstance(data, dict):
            return self._fail(400, "invalidSyntax: expected a JSON object")
        return data

    @staticmethod
    def _echo(data: dict, resource: str, request: Request) -> dict:
        location = str(request.url).split("?")[0]
        if not location.rstrip("/").endswith(data["id"]):
            location = location.rstrip("/") + "/" + data["id"]
        return {**data, "meta": {"resourceType": resource, "location": location}}
