"""One sandbox for the REST stand-in tests: every stand-in on a free port, started by the runner,
and a small receiver playing Koppel's webhook server (hooks, postbacks, SCIM)."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from standin_helpers import PROJECT

from sandbox.runner import Sandbox, _serve

REST = ["iam", "website", "centraal-aanmelden", "intergrip", "vva", "signhost", "dms", "crm", "exact", "xedule",
        "b3net", "remindo", "dlo"]


class Koppel:
    """Records what the stand-ins send; answers ``status`` (200 unless a test says otherwise)."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.status = 200
        self.lock = threading.Lock()

        async def hook(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.calls.append({"path": request.url.path, "method": request.method, "headers": dict(request.headers),
                                   "raw": body, "json": json.loads(body) if body else None})
            if request.url.path.startswith("/scim/v2/") and request.method == "GET":
                # a search before a create (RFC 7644 §3.4.2): what was created here, by externalId
                wanted = request.query_params.get("filter", "").partition(" eq ")[2].strip('"')
                found = [c["json"] for c in self.calls if c["method"] == "POST" and c["path"] == request.url.path
                         and (c["json"] or {}).get("externalId") == wanted]
                return JSONResponse({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                                     "totalResults": len(found[:1]),
                                     "Resources": [{**f, "id": f["externalId"]} for f in found[:1]]},
                                    media_type="application/scim+json")
            if request.url.path.startswith("/scim/v2/") and request.method in ("POST", "PUT"):
                data = json.loads(body)
                return JSONResponse({**data, "id": data.get("externalId") or "x",
                                     "meta": {"resourceType": data["schemas"][0].rsplit(":", 1)[-1]}},
                                    status_code=201 if request.method == "POST" else 200,
                                    media_type="application/scim+json")
            return JSONResponse({"ok": True}, status_code=self.status)

        app = Starlette(routes=[Route("/{path:path}", hook, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])])
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server, self.thread = _serve(app, sock, "koppel")

    def wait_for(self, predicate, timeout: float = 5.0) -> list[dict]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                found = [c for c in self.calls if predicate(c)]
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError("Koppel received no matching call")


@pytest.fixture(scope="session")
def koppel():
    receiver = Koppel()
    yield receiver
    receiver.server.should_exit = True
    receiver.thread.join(5)


@pytest.fixture(scope="session")
def sandbox(koppel):
    options = {name: {"koppel_url": koppel.url} for name in ("iam", "signhost", "b3net")}
    options["signhost"].update(sign_delay=0.2, postback_retries=1, postback_retry_delay=0.1)
    options["centraal-aanmelden"] = {"interval": 3600, "backlog": 45}
    options["remindo"] = {"result_delay": 0.2, "koppel_url": koppel.url, "push_retries": 1, "push_retry_delay": 0.1}
    box = Sandbox(PROJECT, names=REST, free_ports=True, include_services=False, options=options)
    box.start()
    assert not box.skipped, box.skipped
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def clean(request):
    """Each test starts without queued faults and with an empty record."""
    if "sandbox" in request.fixturenames:
        box = request.getfixturevalue("sandbox")
        for name in REST:
            box.context(name).faults.clear()
            box.context(name).received.clear()
    yield


