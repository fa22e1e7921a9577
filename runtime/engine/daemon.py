"""``koppel serve``: scheduler, realtime loops and the HTTP server in one process.

SIGTERM (or Ctrl-C) starts a graceful drain: /readyz turns 503 so a load balancer stops sending
webhooks, no new run starts, runs in progress finish the batch in hand and record it (a retry
wait is cut short; its batch is read again next time), then the process exits. Uvicorn handles
the signal; the drain runs in the application's lifespan shutdown, before uvicorn returns. Runs
this process could not close because the database was down are closed as ``interrupted`` when
it answers; if it never does before the exit, a survivor closes them once their lease expired.

SIGHUP (and, with ``watch=True``, any change under catalog.yaml, interfaces/ or mappings/)
reloads the definitions and the catalog's state keys (``reload``): like a drain, runs in hand record their batch and stop
(a retry wait is cut short), then the loops and the scheduler start again on the new project; a file that became invalid keeps its last good version
(runtime/servable.py) and is reported in the log, /readyz and ``koppel_definition_invalid``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading

from runtime.engine.health import Health
from runtime.engine.metrics import Metrics
from runtime.engine.realtime import Realtime
from runtime.engine.scheduler import Scheduler
from runtime.engine.server import DaemonState, create_app
from runtime.engine.state.retention import PurgeLoop

log = logging.getLogger("koppel.daemon")

WATCH_EVERY = 2.0


class Daemon:
    def __init__(self, engine, *, host: str = "127.0.0.1", port: int = 8470, scheduler: bool = True,
                 realtime: bool = True, drain_timeout: float = 120.0, invalid: dict[str, str] | None = None,
                 watch: bool = False, only: set[int] | None = None) -> None:
        self.engine = engine
        self.host, self.port = host, port
        self.state = DaemonState()
        self.state.started = False
        engine.metrics = engine.metrics or Metrics(engine.store)
        self.with_scheduler, self.with_realtime = scheduler, realtime
        self.scheduler = Scheduler(engine) if scheduler else None
        self.realtime = Realtime(engine) if realtime else None
        self.drain_timeout = drain_timeout
        self.health = Health(engine, self.state, realtime=self.realtime, scheduler=self.scheduler, invalid=invalid)
        self.state.health = self.health
        engine.metrics.collectors.append(self.health.collect)
        self.app = create_app(engine, metrics=engine.metrics, state=self.state,
                              on_received=self._wake, lifespan=self._lifespan)
        self.reload_requested = threading.Event()
        self._stopping = threading.Event()
        self._watch = watch
        # taken now, not when the watcher thread first runs: an edit right after start counts
        self._stamp = _definition_stamp(engine.project.root) if watch else None
        self.only = only  # koppel serve --only: reloads keep to these interfaces
        self._reloader: threading.Thread | None = None
        self.purger = PurgeLoop(engine)
        for name, why in sorted((invalid or {}).items()):
            log.error("definition invalid, not served: %s", why, extra={"file": name})

    def _wake(self, interface_id: int) -> None:
        if self.realtime:
            self.realtime.wake(interface_id)

    def start(self) -> None:
        scheduled = self.scheduler.add_interfaces() if self.scheduler else []
        if self.scheduler:
            self.scheduler.start()
        realtime = self.realtime.start() if self.realtime else []
        self.purger.start()  # retention (runtime/engine/state/retention.py), KOPPEL_PURGE_EVERY
        self.state.started = True
        self._reloader = threading.Thread(target=self._reload_loop, name="reload", daemon=True)
        self._reloader.start()
        log.info("daemon started", extra={"scheduled": scheduled, "realtime": realtime,
                                          "address": f"{self.host}:{self.port}"})

    def _stop_loops(self) -> None:
        if self.realtime:
            self.realtime.stop(timeout=self.drain_timeout)
        if self.scheduler:
            self.scheduler.shutdown(wait=True)

    def drain(self) -> None:
        log.info("draining")
        self.state.draining = True
        self._stopping.set()
        self.engine.stop()
        self.purger.stop()
        self._stop_loops()
        _close_own_runs(self.engine.store)
        log.info("drained")

    # -- reloading -----------------------------------------------------------------------------

    def reload(self) -> dict[str, str]:
        """Load the definitions again and serve the result; the problems found (file → why)."""
        from runtime.project import load_project
        from runtime.servable import merge_last_good

        engine = self.engine
        log.info("reloading the definitions")
        fresh = load_project(engine.project.root)
        project, problems = merge_last_good(engine.project, fresh)
        if self.only is not None:
            project.interfaces = {i: x for i, x in project.interfaces.items() if i in self.only}
        for name, why in sorted(problems.items()):
            log.error("definition invalid: %s", why, extra={"file": name})
        # the catalog's state keys too (a key rotation: a new first key seals, every listed key
        # opens); a key that does not load raises here, before anything stopped, so the keys and
        # the definitions in use stay
        from runtime.engine.state import crypto as state_crypto

        keyring = state_crypto.keyring_from(project.catalog, engine.environment, project.root)
        engine.stop()  # runs in hand record their batch; a retry wait is cut short (read again)
        self._stop_loops()
        from runtime.engine.retry import Sleeper

        engine.sleeper = Sleeper()  # the new runs' retries wait again
        engine.project = project
        state_crypto.configure(keyring)
        # mappings are loaded again on first use, except those of a broken file (its last good version stays)
        for name in [n for n in engine._mappings if f"mappings/{n}.yaml" not in problems]:
            engine._mappings.pop(name, None)
        self.scheduler = Scheduler(engine) if self.with_scheduler else None
        self.realtime = Realtime(engine) if self.with_realtime else None
        fresh_app = create_app(engine, metrics=engine.metrics, state=self.state, on_received=self._wake)
        self.app.router.routes[:] = fresh_app.router.routes  # the webhooks of the new definitions
        scheduled = self.scheduler.add_interfaces() if self.scheduler else []
        if self.scheduler:
            self.scheduler.start()
        realtime = self.realtime.start() if self.realtime else []
        # only now, with the loops running: /readyz never shows a half-made daemon
        self.health.realtime, self.health.scheduler, self.health.invalid = self.realtime, self.scheduler, problems
        log.info("definitions reloaded", extra={"scheduled": scheduled, "realtime": realtime,
                                                "invalid": sorted(problems)})
        return problems

    def _reload_loop(self) -> None:
        seen = self._stamp
        log.debug("watching the definitions" if self._watch else "reloading on SIGHUP")
        while not self._stopping.is_set():
            asked = self.reload_requested.wait(WATCH_EVERY)
            if self._stopping.is_set():
                return
            if self._watch and not asked:
                now = _definition_stamp(self.engine.project.root)
                asked, seen = now != seen, now
            if asked:
                self.reload_requested.clear()
                try:
                    self.reload()
                except Exception:
                    log.exception("reload failed; the definitions in use stay")

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
        signal.signal(signal.SIGHUP, lambda *_: self.reload_requested.set())
        config = uvicorn.Config(self.app, host=self.host, port=self.port, log_config=None,
                                access_log=False, timeout_graceful_shutdown=30, lifespan="on")
        uvicorn.Server(config).run()
        self.engine.close()


def _close_own_runs(store) -> None:
    """Runs of this process still ``running`` after the drain (the database was down when they
    ended): closed as ``interrupted`` if the database answers now; else their lease expires and
    a survivor closes them (runtime/engine/resume.py)."""
    from runtime.engine.lease import process_id

    try:
        ids = [r["id"] for r in store.open_runs() if (r["holder"] or "").startswith(process_id() + ":")]
        store.close_open_runs(ids, "interrupted", "the daemon stopped while the run could not be recorded; "
                              "what it had not recorded is read again")
    except Exception:
        log.warning("runs of this daemon not closed: the state database does not answer", exc_info=True)


def _definition_stamp(root) -> tuple:
    """(path, mtime, size) of every definition file: changes when one is edited, added or removed."""
    from pathlib import Path

    root = Path(root)
    files = [root / "catalog.yaml", *sorted((root / "interfaces").glob("*.y*ml")),
             *sorted((root / "mappings").rglob("*.y*ml"))]
    out = []
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        out.append((str(f), st.st_mtime_ns, st.st_size))
    return tuple(out)
