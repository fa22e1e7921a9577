"""Realtime triggers: outbox subscribers, polling sources and webhook inbox runners.

Each realtime interface gets one thread that decides *when* to run; the run itself is the
ordinary pipeline (lease, cursor, ledger), so a realtime run is "one drained slice of events".

- outbox: waits on the SIS store's OutboxReader (LISTEN/NOTIFY on PostgreSQL, polling max(seq)
  every ``trigger.poll`` on SQLite) and runs when a change of an object that wakes it arrived:
  ``trigger.objects`` and every object its sources include (``wake_objects``);
- poll: runs every ``trigger.every`` (the source reads the other system's API from its cursor);
- webhook: runs as soon as the server stored a call (woken in-process), and every few seconds
  anyway, to pick up calls another daemon stored or a crash left behind;
- callbacks of an interface with another trigger (Signhost's postbacks on the cron-run
  interface 14): a loop of their own, like a webhook loop, whose runs (trigger ``webhook``)
  drain only the callbacks (runtime/engine/callbacks.py).

Supervision: a loop never ends on an exception of its database, source or target. It logs,
backs off (``_backoff``), drops its connections, and starts over from the interface's committed
cursor when the dependency answers again. A run that an outage cut short is closed as
``interrupted`` as soon as the state database answers (loopstatus.py keeps what /readyz shows).

Several daemons: outbox and poll loops read only while they own ``owner:interface:<id>``
(runtime/engine/lease.py); the others stand by, try again every ``sweep_seconds()`` and take over
once the owner's lease expired, then run at once, so changes a dead owner left behind go out
within the lease TTL plus one sweep without a new change. A run skipped because another process
holds the run lease is tried again after a short pause: the changes are not marked seen.
Webhook and callback loops run on every daemon (any daemon may have stored the call).

Runs that found nothing are not kept in the run history (see Engine).
"""

from __future__ import annotations

import logging
import threading
import time

from runtime.engine.lease import Lease, lease_ttl
from runtime.engine.loopstatus import (
    LoopStatus,
    close_interrupted_runs,
    outbox_progress,
)

log = logging.getLogger("koppel.realtime")

WEBHOOK_SWEEP = 5.0
OUTBOX_SWEEP = 30.0
MAX_BACKOFF = 300.0
DATABASE_BACKOFF = 5.0
#: after a run skipped because another process held the run lease
SKIPPED_RETRY = 1.0


def sweep_seconds() -> float:
    """How often a standby tries to take an interface over: a third of the lease TTL, at most 10 s."""
    return min(10.0, lease_ttl() / 3)


def wake_reasons(interface) -> dict[str, list[str]]:
    """Each SIS object whose outbox changes wake an outbox interface → why: ``trigger.objects``,
    or ``source <object> (include <path>)`` for what a source reads or includes (a source spec
    offering ``wake_objects()``, e.g. the sis source). ``koppel validate`` prints it."""
    reasons: dict[str, list[str]] = {o: ["trigger.objects"] for o in interface.trigger.objects}
    # pipeline.sources_of, written out: importing the pipeline would load SQLAlchemy into validate
    for spec in list(getattr(interface, "all_sources", None) or [interface.source]):
        extra = getattr(spec, "wake_objects", None)
        if not callable(extra):
            continue
        try:
            objects = extra()
        except Exception:  # an include that does not resolve is a validate error, not ours
            log.warning("cannot resolve what wakes interface %s", interface.id, exc_info=True)
            continue
        root = getattr(spec, "object", None)
        for o in objects:
            why = f"source {root}" if o == root else f"included by source {root}"
            reasons.setdefault(o, []).append(why)
    return dict(sorted(reasons.items()))


def wake_objects(interface) -> list[str]:
    """The SIS objects whose changes wake an outbox interface (see ``wake_reasons``)."""
    return list(wake_reasons(interface))


def explain_wakeups(project) -> dict[int, dict[str, list[str]]]:
    """For every active outbox interface of a project: what wakes it, and why."""
    return {iid: wake_reasons(i) for iid, i in sorted(project.interfaces.items())
            if i.status == "active" and i.trigger.type == "outbox"}


class RealtimeLoop(threading.Thread):
    def __init__(self, engine, interface, stop: threading.Event, trigger: str | None = None) -> None:
        super().__init__(name=f"{'callbacks' if trigger else 'realtime'}-{interface.id}", daemon=True)
        self.engine = engine
        self.interface = interface
        self.trigger = trigger or interface.trigger.type
        self.stopping = stop
        self.wake = threading.Event()
        self.busy = threading.Event()
        self.status = LoopStatus(interface.id, self.trigger)
        self.owner: Lease | None = None
        self._interrupted = False

    @property
    def failures(self) -> int:
        return self.status.failures

    # -- supervision ---------------------------------------------------------------------------

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                if self.trigger == "outbox":
                    self._outbox()
                else:
                    self._periodic()
            except _RunFailed as failed:  # logged and counted by _run_once
                if not failed.by_peer:
                    self._drop_ownership()
                self.stopping.wait(self._backoff(run_failed=failed.by_peer))
            except Exception as exc:  # the database, the source or the target went away
                self.status.failed(exc)
                # the traceback once per streak of failures; then one line each (an outage is long)
                log.warning("realtime loop failed (%s); retrying in %.0f s", type(exc).__name__, self._backoff(),
                            exc_info=self.status.failures == 1, extra={"interface": self.interface.id})
                self._drop_ownership()
                self.stopping.wait(self._backoff())
        self._drop_ownership()
        self.status.stopped()

    def _backoff(self, run_failed: bool = False) -> float:
        """After failures: 1 s, 2 s, 4 s ... A failed run (the peer said no) backs off up to 5
        minutes for a poll loop (an external API that is down) and 30 s otherwise, so a peer that
        is down does not fill the run history; a failure outside a run (the state database or the
        SIS store went away) is probed every 5 s at most, so a short outage is over in seconds."""
        cap = (MAX_BACKOFF if self.trigger == "poll" else 30.0) if run_failed else DATABASE_BACKOFF
        return min(cap, 2.0 ** max(0, self.status.failures - 1))

    def _run_once(self) -> str:
        """One run: ``ok``, ``skipped`` (another process holds the run), ``failed`` (the run ended
        in an error: the source or the target said no) or ``broken`` (it raised: the state
        database went away under it)."""
        if self.stopping.is_set():
            return "ok"
        self.busy.set()
        try:
            if self._interrupted:
                close_interrupted_runs(self.engine.store, self.interface.id)
                self._interrupted = False
            summary = self.engine.run_interface(self.interface.id, self.trigger)
        except Exception as exc:
            self._interrupted = True
            self.status.failed(exc)
            log.warning("realtime run failed: %s", type(exc).__name__, exc_info=self.status.failures == 1,
                        extra={"interface": self.interface.id})
            return "broken"
        finally:
            self.busy.clear()
        if summary.outcome == "error":
            self.status.failed(summary.message or "error")
            return "failed"
        self.status.ran()
        return "skipped" if summary.outcome == "skipped" else "ok"

    # -- ownership (outbox and poll loops) -----------------------------------------------------

    def _owns(self) -> bool:
        """Whether this daemon reads for the interface now; takes the owner lease when it is free."""
        if self.trigger not in ("outbox", "poll"):
            return True
        if self.owner is not None and self.owner.held:
            return True
        self._drop_ownership()
        lease = Lease(self.engine.store, f"owner:interface:{self.interface.id}")
        if lease.acquire():
            self.owner = lease
            self.status.owning()
            log.info("owning the interface", extra={"interface": self.interface.id})
            return True
        return False

    def _drop_ownership(self) -> None:
        lease, self.owner = self.owner, None
        if lease is not None:
            try:
                lease.release()
            except Exception:  # the database is down: the lease expires by itself
                log.debug("owner lease not released", exc_info=True)

    def _stand_by(self) -> None:
        self.status.standby(self.engine.store, self.interface)
        self.stopping.wait(sweep_seconds())

    # -- the loops -----------------------------------------------------------------------------

    def _periodic(self) -> None:
        every = self.interface.trigger.every if self.trigger == "poll" else WEBHOOK_SWEEP
        while not self.stopping.is_set():
            if not self._owns():
                self._stand_by()
                continue
            outcome = self._run_once()
            if outcome in ("failed", "broken"):
                pause = self._backoff(run_failed=outcome == "failed")
            else:
                pause = SKIPPED_RETRY if outcome == "skipped" else every
            self.wake.wait(pause)
            self.wake.clear()

    def _outbox(self) -> None:
        from runtime import settings
        from runtime.sis.outbox import OutboxReader

        trigger = self.interface.trigger
        objects = wake_objects(self.interface)
        store = self.engine.store
        reader = OutboxReader(settings.sis_url(self.engine.project.root), poll_interval=trigger.poll)
        try:
            seen: int | None = None
            pending = True  # whatever arrived while this loop was down or on standby
            last_run = time.monotonic()
            while not self.stopping.is_set():
                if not self._owns():
                    self.status.standby(store, self.interface, outbox_progress(reader, store, self.interface, objects))
                    seen, pending = None, True
                    self.stopping.wait(sweep_seconds())
                    reader.wait(timeout=0)  # drop the notifications meant for the owner
                    continue
                if seen is None:
                    seen = reader.max_seq()
                if pending:
                    outcome = self._run_once()
                    if outcome in ("failed", "broken"):
                        raise _RunFailed(outcome == "failed")  # back off, reconnect; the restart runs again
                    if outcome == "skipped":  # another process is running it: try again soon
                        self.stopping.wait(SKIPPED_RETRY)
                        continue
                    pending, last_run = False, time.monotonic()
                    self.status.measure(reader, store, self.interface, objects)
                timeout = min(trigger.poll * 5, OUTBOX_SWEEP) if reader.is_postgresql else trigger.poll
                reader.wait(timeout=timeout)
                if self.stopping.is_set():
                    break
                upto = reader.max_seq()
                if upto > seen:
                    # other objects' changes only move the cursor: once per sweep is enough
                    pending = bool(reader.read_after(seen, objects, limit=1)) or time.monotonic() - last_run >= OUTBOX_SWEEP
                    if pending:
                        seen = upto
                if not pending:
                    self.status.measure(reader, store, self.interface, objects)
                    self.status.idle()
        finally:
            reader.close()


class _RunFailed(Exception):
    """A run of the loop failed; the supervisor backs off (the failure is already logged)."""

    def __init__(self, by_peer: bool) -> None:
        super().__init__("run failed")
        self.by_peer = by_peer


class Realtime:
    """All realtime loops of a project."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.stop_event = threading.Event()
        self.loops: dict[int, RealtimeLoop] = {}
        self.callback_loops: dict[int, RealtimeLoop] = {}

    def start(self) -> list[int]:
        from runtime.engine.callbacks import callbacks_of

        for iid, interface in sorted(self.engine.project.interfaces.items()):
            if interface.status != "active":
                continue
            kind = interface.trigger.type
            if kind in ("outbox", "poll", "webhook"):
                self.loops[iid] = RealtimeLoop(self.engine, interface, self.stop_event)
            if callbacks_of(interface) and kind != "webhook":  # a webhook loop drains them already
                self.callback_loops[iid] = RealtimeLoop(self.engine, interface, self.stop_event, trigger="webhook")
        for loop in self._all():
            loop.start()
        return sorted({*self.loops, *self.callback_loops})

    def _all(self) -> list[RealtimeLoop]:
        return [*self.loops.values(), *self.callback_loops.values()]

    def statuses(self) -> list[LoopStatus]:
        return [loop.status for loop in self._all()]

    def wake(self, interface_id: int) -> None:
        """The server stored a call for this interface: its callback loop, else its webhook loop."""
        loop = self.callback_loops.get(interface_id) or self.loops.get(interface_id)
        if loop is not None:
            loop.wake.set()

    def stop(self, timeout: float = 60.0) -> None:
        self.stop_event.set()
        for loop in self._all():
            loop.wake.set()
        for loop in self._all():
            loop.join(timeout=timeout)
