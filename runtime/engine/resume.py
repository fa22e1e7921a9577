"""Runs a dead daemon left ``running``: closed, and scheduled ones finished by a survivor.

Every daemon with a scheduler sweeps ``koppel_runs`` every ``sweep_seconds()``. A run still
``running`` whose run lease (``interface:<id>``) has expired, or is gone, or is held by another
run, has no process behind it any more (its holder renews the lease while it runs):

- a scheduled run (cron, interval, resume) of an interface this daemon schedules, whose lease
  expired less than the misfire grace ago, is resumed: ``run_interface(id, "resume")`` under the
  run key ``<tick>~resume<run id>`` (so one survivor resumes it), which closes the dead run as
  ``crashed`` and reads on from the committed cursor. A nightly batch killed at 02:30 finishes
  that night, not at the next tick;
- any other such run is closed as ``crashed`` on the spot, so no run stays ``running`` past its
  lease (the next run of the interface reads from the cursor anyway).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from runtime.engine.lease import process_of

log = logging.getLogger("koppel.resume")

SCHEDULED = ("cron", "interval", "resume")


def sweep_seconds() -> float:
    from runtime.engine.realtime import sweep_seconds as every

    return every()


class ResumeSweep(threading.Thread):
    def __init__(self, engine, scheduler, stopping: threading.Event) -> None:
        super().__init__(name="resume-sweep", daemon=True)
        self.engine, self.scheduler, self.stopping = engine, scheduler, stopping

    def run(self) -> None:
        while not self.stopping.wait(sweep_seconds()):
            try:
                self.sweep()
            except Exception:  # the state database is down: the next sweep tries again
                log.warning("resume sweep failed", exc_info=True)

    def sweep(self, now: dt.datetime | None = None, interface_id: int | None = None) -> list[int]:
        """Close or resume the dead runs (of one interface, or all); the ids of the runs it resumed.

        The scheduler calls it for its interface before each tick: the tick's run would close a
        dead run as crashed when it takes the lease, and the killed tick would go unfinished."""
        store = self.engine.store
        now = now or dt.datetime.now(dt.UTC)
        runs = store.open_runs()  # before the leases: a run started since has its lease in the list
        leases = store.leases("interface:")
        resumed = []
        for run in runs:
            iid = run["interface_id"]
            if interface_id is not None and iid != interface_id:
                continue
            lease = leases.get(f"interface:{iid}")
            if lease is not None and lease["alive"] and lease["holder"] == run["holder"]:
                continue  # its process is alive and renewing
            if lease is not None and lease["alive"]:
                continue  # another run holds the interface: it closed (or will close) this one
            expired_at = lease["expires_at"] if lease else run["started_at"]
            interface = self.engine.project.interfaces.get(iid)
            grace = _grace(interface)
            if (run["trigger"] in SCHEDULED and iid in self.scheduler.triggers and grace is not None
                    and (now - expired_at).total_seconds() <= grace):
                if self._resume(iid, run):
                    resumed.append(run["id"])
                continue
            n = store.close_open_runs([run["id"]], "crashed", "its daemon stopped renewing the lease "
                                      f"({process_of(run['holder']) or 'unknown'}); the next run reads from the cursor")
            if n:
                log.warning("closed run %s of a dead daemon", run["id"], extra={"interface": iid, "run": run["id"]})
        return resumed

    def _resume(self, iid: int, run: dict) -> bool:
        base = (run["run_key"] or str(iid)).split("~", 1)[0]
        key = f"{base}~resume{run['id']}"
        log.warning("resuming run %s of a dead daemon", run["id"], extra={"interface": iid, "run": run["id"]})
        summary = self.engine.run_interface(iid, "resume", run_key=key)
        return summary.outcome not in ("skipped",)


def _grace(interface) -> float | None:
    if interface is None:
        return None
    t = interface.trigger
    if t.type == "cron":
        return float(t.misfire_grace)
    if t.type == "interval":
        return max(60.0, float(t.every))
    return None
