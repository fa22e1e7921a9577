"""Retention: rows past their interface's ``retention:`` are removed, in small transactions.

What is purged, per interface (periods from ``delivery.retention`` over the catalog's
``state.retention``, runtime/models/state.py):

- ``delivered``: ledger rows of delivered records, by ``updated_at`` (a record unchanged for
  longer, read again by a full or watermark source, is sent again: the target's upsert absorbs it);
- ``lineage``: delivery history, by ``at``;
- ``dead_open`` / ``dead_closed``: dead letters still open (by last attempt) and closed ones
  (by when they were closed);
- step progress of multi-step deliveries (``koppel_step_progress``: Signhost's create, upload,
  start), by ``updated_at``, once past both ``delivered`` and ``dead_open``: a finished
  delivery's row answers a repeat only as long as its ledger row would, and an unfinished one
  must outlive the open dead letter whose replay continues it (else a replay would open a
  second signing transaction). Either period unset keeps the rows;
- ``inbox``: webhook/SCIM/callback bodies, by ``received_at``, and only those every reader of the
  interface has passed (the lowest numeric cursor of the interface): an unread body is never lost;
- ``outbox`` (the SIS store's change outbox, shared): rows past the catalog's period and at or
  below the lowest cursor of every active interface reading the outbox. An active outbox
  interface without a cursor yet keeps the whole outbox (it is reported).

Every delete looks at the next ``batch`` rows in primary key order and removes those past their
time (``DELETE ... WHERE id > a AND id <= b AND ...``), one short transaction each, so deliveries
writing the same tables never wait long (bench/bench_purge.py).
Run history (``koppel_runs``, with ``koppel_run_traces``) and the audit trail are kept: they hold
counts, reasons and trace ids, no payload; the audit trail is append-only (a trigger refuses
deletes, state migration 0005), so removing old audit rows is the database owner's deliberate act.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine

from runtime.engine.state import models as m
from runtime.engine.state.common import utcnow
from runtime.models.state import DEFAULT_RETENTION, Retention

BATCH = 1000


@dataclass
class PurgeReport:
    removed: dict[str, int] = field(default_factory=dict)  # "deliveries" → rows (would be) removed
    notes: list[str] = field(default_factory=list)

    def add(self, what: str, n: int) -> None:
        self.removed[what] = self.removed.get(what, 0) + n


def retention_of(project, interface) -> Retention:
    catalog = getattr(project, "catalog", None)
    defaults = catalog.state.retention.over(DEFAULT_RETENTION) if catalog is not None else DEFAULT_RETENTION
    own = interface.delivery.retention
    return own.over(defaults) if own is not None else defaults


def purge(store, project, *, dry_run: bool = False, now: dt.datetime | None = None, batch: int = BATCH,
          sis_engine=None, pause: float = 0.0, stop=None) -> PurgeReport:
    """Remove (or with ``dry_run`` count) what is past its time; ``sis_engine``: the SIS store's
    database for the outbox (None: the outbox is left alone). ``pause``: seconds between batches;
    ``stop``: an Event that ends the purge after the batch in hand (a daemon draining)."""
    now = now or utcnow()
    report = PurgeReport()
    deleter = _Deleter(store.engine, dry_run, batch, pause, stop)
    for iid in sorted(project.interfaces):
        if stop is not None and stop.is_set():
            return report
        keep = retention_of(project, project.interfaces[iid])
        d, line, dl, box = m.deliveries.c, m.lineage.c, m.dead_letters.c, m.inbox.c
        if keep.delivered is not None:
            report.add("deliveries", deleter.run(m.deliveries, d.id, and_(
                d.interface_id == iid, d.status == "delivered", d.updated_at < _ago(now, keep.delivered))))
        if keep.lineage is not None:
            report.add("lineage", deleter.run(m.lineage, line.id, and_(
                line.interface_id == iid, line.at < _ago(now, keep.lineage))))
        if keep.dead_open is not None:
            report.add("dead letters (open)", deleter.run(m.dead_letters, dl.id, and_(
                dl.interface_id == iid, dl.status == "open", dl.last_attempt_at < _ago(now, keep.dead_open))))
        if keep.dead_closed is not None:
            report.add("dead letters (closed)", deleter.run(m.dead_letters, dl.id, and_(
                dl.interface_id == iid, dl.status != "open",
                func.coalesce(dl.resolved_at, dl.last_attempt_at) < _ago(now, keep.dead_closed))))
        if keep.delivered is not None and keep.dead_open is not None:
            sp = m.step_progress.c
            report.add("step progress", deleter.run(m.step_progress, sp.updated_at, and_(
                sp.interface_id == iid, sp.updated_at < _ago(now, max(keep.delivered, keep.dead_open)))))
        if keep.inbox is not None:
            read_upto = _lowest_cursor(store, [iid])
            if read_upto is not None:
                report.add("inbox", deleter.run(m.inbox, box.id, and_(
                    box.interface_id == iid, box.id <= read_upto, box.received_at < _ago(now, keep.inbox))))
    if sis_engine is not None and not (stop is not None and stop.is_set()):
        _purge_outbox(store, project, now, report, _Deleter(sis_engine, dry_run, batch, pause, stop))
    return report


def _purge_outbox(store, project, now, report: PurgeReport, deleter: _Deleter) -> None:
    from runtime.sis.models import Outbox

    catalog = getattr(project, "catalog", None)
    period = (catalog.state.retention.over(DEFAULT_RETENTION) if catalog is not None else DEFAULT_RETENTION).outbox
    if period is None:
        return
    readers = outbox_readers(project)
    if not readers:
        report.notes.append("outbox: no active interface reads it; kept as it is")
        return
    upto, missing = None, []
    for iid, source in readers:
        cursor = store.cursor(iid, source)
        if cursor is None or not str(cursor).isdigit():
            missing.append(iid)
            continue
        upto = int(cursor) if upto is None else min(upto, int(cursor))
    if missing or upto is None:
        report.notes.append(f"outbox: kept whole, interface(s) {', '.join(map(str, sorted(set(missing))))} "
                            "have not read it yet")
        return
    t = Outbox.__table__
    report.add("outbox", deleter.run(
        t, t.c.seq, and_(t.c.seq <= upto, t.c.changed_at < _ago(now, period))))


def outbox_readers(project) -> list[tuple[int, str]]:
    """(interface id, source name) of every active interface that reads the SIS outbox."""
    from runtime.engine.pipeline import source_names, sources_of

    found = []
    for iid, interface in sorted(project.interfaces.items()):
        if interface.status != "active":
            continue
        for name, spec in zip(source_names(interface), sources_of(interface)):
            if getattr(spec, "type", None) == "sis" and getattr(spec, "mode", None) == "outbox":
                found.append((iid, name))
    return found


def _lowest_cursor(store, interface_ids: list[int]) -> int | None:
    """The lowest numeric cursor of these interfaces: every reader has passed it."""
    c = m.cursors.c
    with store.engine.connect() as conn:
        values = [r[0] for r in conn.execute(select(c.cursor).where(c.interface_id.in_(interface_ids)))]
    numbers = [int(v) for v in values if v is not None and str(v).isdigit()]
    return min(numbers) if numbers else None


def _ago(now: dt.datetime, seconds: float) -> dt.datetime:
    return now - dt.timedelta(seconds=seconds)


@dataclass
class _Deleter:
    engine: Engine
    dry_run: bool
    batch: int
    pause: float
    stop: threading.Event | None = None

    def run(self, table: Any, key, condition) -> int:
        """Delete the rows matching ``condition``, ``batch`` at a time; the number removed."""
        if self.dry_run:
            with self.engine.connect() as c:
                return c.execute(select(func.count()).select_from(table).where(condition)).scalar_one()
        total, last = 0, None
        while True:
            # walk the primary key forward in windows of ``batch`` rows and delete the matching
            # ones within each: every transaction touches at most ``batch`` rows and is planned on
            # the primary key alone (a filter on interface or status let PostgreSQL scan the whole
            # interface per batch, bench/bench_purge.py)
            rows = select(key.label("k")).order_by(key).limit(self.batch)
            if last is not None:
                rows = rows.where(key > last)
            window = rows.subquery()
            with self.engine.begin() as c:
                high = c.execute(select(func.max(window.c.k))).scalar()
                if high is None:
                    return total
                in_window = key <= high if last is None else and_(key > last, key <= high)
                total += c.execute(table.delete().where(in_window, condition)).rowcount
            last = high
            if self.stop is not None and self.stop.is_set():
                return total
            if self.pause:
                time.sleep(self.pause)


def sis_engine_for(project):
    """The SIS store's database when it holds an outbox; else None (the outbox is left alone)."""
    from sqlalchemy import create_engine, inspect

    from runtime import settings

    engine = create_engine(settings.sis_url(project.root))
    try:
        if inspect(engine).has_table("outbox"):
            return engine
    except Exception:  # noqa: BLE001 - no SIS store reachable: nothing of it to purge
        pass
    engine.dispose()
    return None


class PurgeLoop:
    """The daemon's purge: every ``KOPPEL_PURGE_EVERY`` seconds (default 3600; 0 turns it off),
    under the lease ``state:purge`` so one daemon of several purges at a time. A purge that
    fails is logged and tried again next time; it never stops the daemon."""

    def __init__(self, engine, every: float | None = None) -> None:
        import os

        self.engine = engine
        self.every = float(os.environ.get("KOPPEL_PURGE_EVERY", "3600")) if every is None else every
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="purge", daemon=True)
        self.last: PurgeReport | None = None

    def start(self) -> None:
        if self.every > 0:
            self.thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join(timeout)

    def _loop(self) -> None:
        while not self.stopped.wait(self.every):
            self.run_once()

    def run_once(self) -> PurgeReport | None:
        import logging

        from runtime.engine.lease import Lease

        log = logging.getLogger("koppel.daemon")
        engine = self.engine
        lease = Lease(engine.store, "state:purge")
        if not lease.acquire():
            return None
        sis = None
        try:
            sis = sis_engine_for(engine.project)
            self.last = purge(engine.store, engine.project, sis_engine=sis, pause=0.01, stop=self.stopped)
            log.info("purge done", extra={"removed": self.last.removed})
            return self.last
        except Exception as exc:  # noqa: BLE001 - a purge never stops the daemon: next time
            from runtime import redact

            log.warning("purge failed, tried again in %.0f s: %s", self.every, redact.text(str(exc)))
            return None
        finally:
            if sis is not None:
                sis.dispose()
            lease.release()
