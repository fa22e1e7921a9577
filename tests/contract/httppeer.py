"""A real HTTP server on 127.0.0.1 for tests: routes, a request log and queued faults.

Any plugin that talks HTTP (rest, webhook callbacks, SOAP over HTTP) can use it::

    with HttpPeer() as peer:
        @peer.route("GET", "/items")
        def items(request):
            return 200, {"items": [...]}           # dict/list → JSON; bytes/str as they are
        peer.fail("/items", status=429, headers={"Retry-After": "0"}, times=1)
        ... peer.url ... peer.requests ...

A handler returns ``(status, body)`` or ``(status, body, headers)``. Faults queued with
``fail()`` answer before the handler; ``status=None, delay=s`` only delays (a slow peer);
``drop=True`` closes the connection without an answer. Keep-alive (HTTP/1.1) is on, like a
real API server, so clients are measured the way they run. ``HttpPeer(ssl_context=...)`` (a
server-side ``ssl.SSLContext``) serves HTTPS, with client certificates if the context asks.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class PeerRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class PeerFault:
    prefix: str
    status: int | None = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1  # -1: until cleared
    delay: float = 0.0
    drop: bool = False


Handler = Callable[[PeerRequest], tuple]


class HttpPeer:
    def __init__(self, *, log_requests: bool = True, ssl_context: Any = None) -> None:
        self.ssl_context = ssl_context  # an ssl.SSLContext (server side) for HTTPS
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[PeerRequest] = []
        self.log_requests = log_requests
        self._faults: list[PeerFault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- configuration -------------------------------------------------------------------

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes[(method.upper(), path)] = handler
            return handler

        return register

    def fail(self, prefix: str = "/", **fault: Any) -> None:
        with self._lock:
            self._faults.append(PeerFault(prefix, **fault))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests.clear()

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> "HttpPeer":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        if self.ssl_context is not None:
            self._server.socket = self.ssl_context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "HttpPeer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- dispatch ------------------------------------------------------------------------

    def _take_fault(self, path: str) -> PeerFault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.prefix):
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _answer(self, request: PeerRequest) -> tuple[int, bytes, dict[str, str]] | None:
        if self.log_requests:
            with self._lock:
                self.requests.append(request)
        fault = self._take_fault(request.path)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.drop:
                return None
            if fault.status is not None:
                return _encode(fault.status, fault.body, fault.headers)
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            return _encode(404, {"message": f"no route {request.method} {request.path}"}, {})
        try:
            result = handler(request)
        except Exception as exc:  # a bug in a test's handler: answer, so the test sees it
            return _encode(500, {"message": f"handler failed: {type(exc).__name__}: {exc}"}, {})
        status, body, headers = (*result, {})[:3] if len(result) == 2 else result
        return _encode(status, body, headers)


def _encode(status: int, body: Any, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
    headers = dict(headers)
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        data = body.encode()
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
    elif body is None:
        data = b""
    else:
        data = bytes(body)
    return status, data, headers


def _handler_class(peer: HttpPeer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def setup(self) -> None:
            super().setup()
            # Headers and body are separate writes: without NODELAY, Nagle + delayed ACK add 40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _handle(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = PeerRequest(
                method=self.command,
                path=split.path,
                query={k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()},
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            answer = peer._answer(request)
            if answer is None:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            status, data, headers = answer
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if data:
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    return Handler
