"""``koppel serve``: scheduler, realtime loops and the HTTP server in one process.

SIGTERM (or Ctrl-C) starts a graceful drain: /readyz turns 503 so a load balancer stops sending
webhooks, no new run starts, runs in progress finish the batch in hand and record it (a retry
wait is cut short; its batch is read again next time), then the process exits. Uvicorn handles
the signal; the drain runs in the application's lifespan shutdown, before uvicorn returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from runtime.engine.metrics import Metrics
from runtime.engine.realtime import Realtime
from runtime.engine.scheduler import Scheduler
from runtime.engine.server import DaemonState, create_app

log = logging.getLogger("koppel.daemon")


class Daemon:
    def __init__(self, engine, *, host: str = "127.0.0.1", port: int = 8470, scheduler: bool = True,
                 realtime: bool = True, drain_timeout: float = 120.0) -> None:
        self.engine = engine
        self.host, self.port = host, port
        self.state = DaemonState()
        self.state.started = False
        engine.metrics = engine.metrics or Metrics(engine.store)
        self.scheduler = Scheduler(engine) if scheduler else None
        self.realtime = Realtime(engine) if realtime else None
        self.drain_timeout = drain_timeout
        self.app = create_app(engine, metrics=engine.metrics, state=self.state,
                              on_received=self._wake, lifespan=self._lifespan)

    def _wake(self, interface_id: int) -> None:
        if self.realtime:
            self.realtime.wake(interface_id)

    def start(self) -> None:
        scheduled = self.scheduler.add_interfaces() if self.scheduler else []
        if self.scheduler:
            self.scheduler.start()
        realtime = self.realtime.start() if self.realtime else []
        self.state.started = True
        log.info("daemon started", extra={"scheduled": scheduled, "realtime": realtime,
                                          "address": f"{self.host}:{self.port}"})

    def drain(self) -> None:
        log.info("draining")
        self.state.draining = True
        self.engine.stop()
        if self.realtime:
            self.realtime.stop(timeout=self.drain_timeout)
        if self.scheduler:
            self.scheduler.shutdown(wait=True)
        log.info("drained")

    @contextlib.asynccontextmanager
    async def _lifespan(self, app):
        await asyncio.to_thread(self.start)
        try:
            yield
        finally:
            await asyncio.to_thread(self.drain)

    def serve(self) -> None:
        import uvicorn

        # Uvicorn restores the previous handlers after its shutdown and raises the signal again;
        # the drain is done by then, so let that second delivery end the process quietly (exit 0).
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
        config = uvicorn.Config(self.app, host=self.host, port=self.port, log_config=None,
                                access_log=False, timeout_graceful_shutdown=30, lifespan="on")
        uvicorn.Server(config).run()
        self.engine.close()
