"""An ASGI app served for real by uvicorn on 127.0.0.1, in a thread of the test process: for the
tests that need a socket (a browser, a redirect to an identity provider, a peer's postback)
rather than starlette's in-process TestClient."""

from __future__ import annotations

import socket
import threading
import time
from typing import Self


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """``with AppServer(app, port):`` serves ``app`` until the block ends (a free port when none
    is given; ``url`` is its base)."""

    def __init__(self, app, port: int | None = None) -> None:  # noqa: ANN001
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 10
        # poll the flag uvicorn sets once it listens: no fixed sleep, and a hang fails here
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, f"uvicorn did not start on port {self.port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
