"""Fault injectors for tests and benchmarks: a recording HTTP target and a TCP proxy, on 127.0.0.1.

``FaultyStore`` is an HTTP API that keeps records by key (``PUT /records/{key}`` or ``POST
/records`` with a JSON array) and fails each request independently at random, as a real peer
under load does::

    503       answered 503 (optionally with Retry-After), nothing applied
    429       answered 429 with Retry-After, nothing applied
    reset     the connection is closed without an answer, nothing applied
    timeout   the record IS applied, but the answer comes after the client gave up (accepted,
              yet the client sees a failure: the case that must never become a dead letter)
    slow      applied and answered, late but in time

An array with a refused record is refused whole (422), as real APIs validate it. It records
every request that applied a record (``applied``: key → list of bodies, in order),
so a test can check what arrived, how often and in what order. Keys in ``reject`` are refused
with 422 and a message naming the record. An ``Idempotency-Key`` seen before is answered 200
and counted in ``repeats``, never applied again (as the rest plugin's peers do).

``TcpFaultProxy`` sits in front of any TCP server on 127.0.0.1 (PostgreSQL, sshd, a SOAP
stand-in) and, for each chunk the client sends (one request, one query, one SFTP packet), at
random resets the connection or delays the chunk. Seeded: the same seed gives the same faults.
"""

from __future__ import annotations

import json
import random
import select
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

FAULT_KINDS = ("503", "429", "reset", "timeout", "slow")


@dataclass
class Faults:
    """Independent per-request faults: ``rate`` of all requests fail, spread over ``kinds``."""

    rate: float = 0.0
    kinds: Sequence[str] = ("503",)
    seed: int = 0
    timeout_delay: float = 0.6  # longer than the client's timeout
    slow_delay: float = 0.05
    retry_after: str | None = "0"
    rng: random.Random = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kind(s) {sorted(unknown)}; known: {FAULT_KINDS}")

    def draw(self) -> str | None:
        with self.lock:
            if not self.kinds or self.rng.random() >= self.rate:
                return None
            return self.rng.choice(list(self.kinds))


class FaultyStore:
    """The HTTP target (see the module docstring). Use as a context manager; ``url`` is its base."""

    def __init__(self, faults: Faults | None = None, reject: set[str] | None = None) -> None:
        self.faults = faults or Faults()
        self.reject = set(reject or ())
        self.lock = threading.Lock()
        self.applied: dict[str, list] = {}  # key → bodies applied, in order
        self.idempotency: set[str] = set()
        self.repeats = 0
        self.requests = 0
        self.injected: dict[str, int] = {}
        self.server: ThreadingHTTPServer | None = None

    # -- what arrived ----------------------------------------------------------------------

    def latest(self) -> dict[str, object]:
        with self.lock:
            return {k: v[-1] for k, v in self.applied.items()}

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Self:
        handler = type("Handler", (_StoreHandler,), {"store": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="faulty-store", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    # -- handling --------------------------------------------------------------------------

    def _count(self, kind: str) -> None:
        with self.lock:
            self.injected[kind] = self.injected.get(kind, 0) + 1

    def apply(self, key: str, body: object, idempotency_key: str | None) -> tuple[int, dict]:
        with self.lock:
            if key in self.reject:
                return 422, {"message": f"record {key} is refused: no valid crebo"}
            if idempotency_key and idempotency_key in self.idempotency:
                self.repeats += 1
                return 200, {"id": f"T-{key}", "repeat": True}
            if idempotency_key:
                self.idempotency.add(idempotency_key)
            self.applied.setdefault(key, []).append(body)
            return 200, {"id": f"T-{key}"}


class JsonHandler(BaseHTTPRequestHandler):
    """The quiet JSON-answering base of the test HTTP peers here and in tests/engine/engine_http.py."""

    def log_message(self, *args: object) -> None:
        pass  # a test's output is its assertions, not an access log

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


class _StoreHandler(JsonHandler):
    store: FaultyStore
    protocol_version = "HTTP/1.1"  # keep-alive, as a real API server
    # headers and body in one segment: otherwise Nagle plus the client's delayed ACK add 40 ms
    # to every answer on a kept-alive connection
    disable_nagle_algorithm = True
    wbufsize = 1 << 16

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        store = self.store
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with store.lock:
            store.requests += 1
        fault = store.faults.draw()
        if fault:
            store._count(fault)
        if fault == "reset":
            self._reset()
            return
        if fault in ("503", "429"):
            headers = {"Retry-After": store.faults.retry_after} if store.faults.retry_after is not None else {}
            self._send(int(fault), {"message": "try again later"}, headers)
            return
        data = json.loads(body or b"null")
        ikey = self.headers.get("Idempotency-Key")
        if self.path.rstrip("/") == "/records" and isinstance(data, list):  # an array of records
            refused = [str(d["id"]) for d in data if str(d["id"]) in store.reject]
            if refused:  # one bad record refuses the array, as real APIs validate it whole
                status, answer = 422, {"message": f"record {refused[0]} is refused: no valid crebo"}
            else:
                answers = [store.apply(str(d["id"]), d, f"{ikey}:{i}" if ikey else None)[1]
                           for i, d in enumerate(data)]
                status, answer = 200, answers
        else:
            key = self.path.rsplit("/", 1)[-1]
            status, answer = store.apply(key, data, ikey)
        if fault == "timeout":
            time.sleep(store.faults.timeout_delay)  # applied; the client has given up by now
        elif fault == "slow":
            time.sleep(store.faults.slow_delay)
        try:
            self._send(status, answer)
        except OSError:
            pass  # the client left (timeout): what was applied stays applied

    def _reset(self) -> None:
        # SO_LINGER 0: close() sends a TCP RST, as a crashed peer or a load balancer does
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.close_connection = True
        self.connection.close()

class TcpFaultProxy:
    """Forward 127.0.0.1:<port> to ``upstream``; per client chunk, at random, reset or delay.

    ``rate`` of the chunks get a fault, half resets and half delays of ``delay`` seconds (or only
    the ``kinds`` given: ``reset``, ``delay``). ``enabled = False`` passes everything through.
    """

    def __init__(self, upstream: tuple[str, int], *, rate: float = 0.0, kinds: Sequence[str] = ("reset", "delay"),
                 delay: float = 0.3, seed: int = 0) -> None:
        self.upstream = upstream
        self.rate, self.kinds, self.delay = rate, tuple(kinds), delay
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.enabled = True
        self.injected: dict[str, int] = {}
        self.connections = 0
        self.chunks = 0  # client chunks seen
        self._listener: socket.socket | None = None
        self._stop = threading.Event()

    def __enter__(self) -> Self:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listener.settimeout(0.2)
        self._listener = listener
        threading.Thread(target=self._accept, name="tcp-fault-proxy", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()

    @property
    def port(self) -> int:
        assert self._listener is not None
        return self._listener.getsockname()[1]

    def _draw(self) -> str | None:
        with self.lock:
            self.chunks += 1
            if not self.enabled or self.rng.random() >= self.rate:
                return None
            kind = self.rng.choice(self.kinds)
            self.injected[kind] = self.injected.get(kind, 0) + 1
            return kind

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            _reset(client)
            return
        server.settimeout(None)
        peers = {client: server, server: client}
        try:
            while not self._stop.is_set():
                readable, _, _ = select.select(list(peers), [], [], 0.5)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        fault = self._draw()
                        if fault == "reset":
                            _reset(client)
                            _reset(server)
                            return
                        if fault == "delay":
                            time.sleep(self.delay)
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            for sock in (client, server):
                try:
                    sock.close()
                except OSError:
                    pass


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    except OSError:
        pass
