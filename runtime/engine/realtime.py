"""Realtime triggers: outbox subscribers, polling sources and webhook inbox runners.

Each realtime interface gets one thread that decides *when* to run; the run itself is the
ordinary pipeline (lease, cursor, ledger), so a realtime run is "one drained slice of events".

- outbox: waits on the SIS store's OutboxReader (LISTEN/NOTIFY on PostgreSQL, polling max(seq)
  every ``trigger.poll`` on SQLite) and runs when a change of one of ``trigger.objects`` arrived;
- poll: runs every ``trigger.every`` (the source reads the other system's API from its cursor);
- webhook: runs as soon as the server stored a call (woken in-process), and every few seconds
  anyway, to pick up calls another daemon stored or a crash left behind;
- callbacks of an interface with another trigger (Signhost's postbacks on the cron-run
  interface 14): a loop of their own, like a webhook loop, whose runs (trigger ``webhook``)
  drain only the callbacks (runtime/engine/callbacks.py).

Runs that found nothing are not kept in the run history (see Engine).
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("koppel.realtime")

WEBHOOK_SWEEP = 5.0
OUTBOX_SWEEP = 30.0
MAX_BACKOFF = 300.0


class RealtimeLoop(threading.Thread):
    def __init__(self, engine, interface, stop: threading.Event, trigger: str | None = None) -> None:
        super().__init__(name=f"{'callbacks' if trigger else 'realtime'}-{interface.id}", daemon=True)
        self.engine = engine
        self.interface = interface
        self.trigger = trigger or interface.trigger.type
        self.stopping = stop
        self.wake = threading.Event()
        self.busy = threading.Event()
        self.failures = 0

    def run(self) -> None:
        kind = self.trigger
        try:
            if kind == "outbox":
                self._outbox()
            else:
                every = self.interface.trigger.every if kind == "poll" else WEBHOOK_SWEEP
                while not self.stopping.is_set():
                    ok = self._run_once()
                    self.wake.wait(every if ok else self._backoff())
                    self.wake.clear()
        except Exception:
            log.exception("realtime loop stopped", extra={"interface": self.interface.id})

    def _run_once(self) -> bool:
        """One run; False when it failed (the peer is down, say): the loop then backs off."""
        if self.stopping.is_set():
            return True
        self.busy.set()
        try:
            summary = self.engine.run_interface(self.interface.id, self.trigger)
            ok = summary.outcome != "error"
        except Exception:
            log.exception("realtime run failed", extra={"interface": self.interface.id})
            ok = False
        finally:
            self.busy.clear()
        self.failures = 0 if ok else self.failures + 1
        return ok

    def _backoff(self) -> float:
        """After failed runs: 5 s, 10 s, 20 s ... up to 5 minutes, so a peer that is down does
        not fill the run history with a failure every poll."""
        return min(MAX_BACKOFF, 5.0 * 2 ** (self.failures - 1))

    def _outbox(self) -> None:
        trigger = self.interface.trigger
        try:
            from runtime import settings
            from runtime.sis.outbox import OutboxReader
        except ModuleNotFoundError:  # no SIS store module: poll the source instead
            while not self.stopping.is_set():
                self._run_once()
                self.stopping.wait(trigger.poll)
            return
        reader = OutboxReader(settings.sis_url(self.engine.project.root), poll_interval=trigger.poll)
        try:
            seen = reader.max_seq()
            self._run_once()  # whatever arrived while the daemon was down
            sweeps = 0.0
            while not self.stopping.is_set():
                woke = reader.wait(timeout=min(trigger.poll * 5, OUTBOX_SWEEP)) if reader.is_postgresql else reader.wait(trigger.poll)
                if self.stopping.is_set():
                    break
                sweeps += 0 if woke else trigger.poll
                upto = reader.max_seq()
                if upto > seen and (reader.read_after(seen, trigger.objects, limit=1) or sweeps >= OUTBOX_SWEEP):
                    sweeps = 0.0
                    if not self._run_once():
                        self.stopping.wait(self._backoff())
                        continue  # keep ``seen``: the changes are still to be sent
                seen = upto
        finally:
            reader.close()


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
