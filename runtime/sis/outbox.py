"""Reading the SIS store's change outbox: what realtime interfaces subscribe to.

    reader = OutboxReader(url)          # SQLite or PostgreSQL URL of the SIS store
    cursor = reader.max_seq()           # start at "now" (or at a stored cursor)
    while running:
        rows = reader.read_after(cursor, objects=["student", "enrollment"], limit=500)
        for row in rows:                # OutboxRow(seq, object, key, op, changed_at)
            handle(row)
        cursor = max(cursor, reader.horizon)   # safe even when no row matched the filter
        if not rows:
            reader.wait(timeout=30)     # True as soon as something changed
    reader.close()

``read_after(seq, objects, limit)`` returns at most ``limit`` rows with ``seq`` greater than
``seq``, in ``seq`` order, of the given object types (all when ``objects`` is None).
``horizon`` is the highest sequence number up to which the last read saw everything: move a
stored cursor to it even when the filter matched nothing, so the next read does not scan the
same rows again.

``wait(timeout)`` blocks until the outbox may hold something new, or ``timeout`` seconds pass;
it returns True when woken by a change. On PostgreSQL it LISTENs on ``koppel_outbox`` (the
triggers send ``pg_notify('koppel_outbox', <object>)``) and returns as soon as a notification
arrives: no polling. The LISTEN starts when the reader is created, so a change that lands
between a read and the next ``wait`` still wakes it. On SQLite, which has no notifications, it
polls ``max(seq)`` every ``poll_interval`` seconds.

Gaps on PostgreSQL: sequence numbers are handed out when a transaction writes, but become
visible when it commits, so a reader may see seq 11 while seq 10 still belongs to an open
transaction. Skipping past 10 would lose it. The reader therefore stops before a gap for as long
as a transaction that was open when it first saw the gap may still commit. When it first sees a
gap it notes a transaction id above every id handed out so far (``pg_current_xact_id()`` of a
transaction of its own, committed at once); the gap is over once a snapshot's ``xmin`` has
reached it. Not the snapshot's ``xmax``: PostgreSQL's xmax is one past the newest *completed*
transaction, so a writer that began after the last commit has an id at or above it, is not in
the snapshot's list, and does not hold its xmin back (measured: writer B open with xid 74170,
writer A's 74169 committed, snapshot ``74170:74170:``); a gap noted with that xmax was passed
while B could still commit into it, and B's change was never read. A gap left by a rolled-back
transaction is passed once those transactions are over. SQLite has a single writer, so no gap
can fill later.

What the reader remembers of gaps (``GapMemory``) stays small in a daemon: a gap is forgotten
as soon as it filled, and a gap whose transactions are all over once the horizon has passed it.
What is left is one entry per gap that a transaction still open may fill, plus the finished
gaps a read cut short by its limit has not reached yet.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text

from runtime.sis import schema
from runtime.sis.models import Outbox
from runtime.sis.triggers import CHANNEL

#: how many outbox rows one read looks at (before the object filter) for its gap analysis
SCAN = 5000


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    object: str
    key: str
    op: str  # insert | update | delete
    changed_at: dt.datetime  # UTC


class OutboxReader:
    def __init__(self, url: str, *, poll_interval: float = 1.0, listen: bool = True) -> None:
        """``listen=False``: a reader that never waits (a batch source) opens no LISTEN connection."""
        self.url = schema.normalise_url(url)
        self.poll_interval = poll_interval
        self._engine = schema.engine(self.url, pool_size=1, max_overflow=1) if not self.url.startswith(
            "sqlite"
        ) else schema.engine(self.url)
        self.is_postgresql = self._engine.dialect.name == "postgresql"
        self._listener: Any = None  # psycopg connection with LISTEN, PostgreSQL only
        self._gaps = GapMemory()
        self._last_seen = 0
        self.horizon = 0
        if self.is_postgresql and listen:
            self._listen()

    # --- reading --------------------------------------------------------------------------

    def max_seq(self) -> int:
        """The highest sequence number now in the outbox (0 when it is empty)."""
        with self._engine.connect() as connection:
            value = connection.execute(select(func.coalesce(func.max(Outbox.seq), 0))).scalar_one()
        self._last_seen = max(self._last_seen, value)
        return value

    def last(self, count: int, objects: Sequence[str] | None = None) -> list[OutboxRow]:
        """The newest ``count`` rows (of ``objects``), oldest first: for operators, not cursors."""
        query = select(Outbox.seq, Outbox.object, Outbox.key, Outbox.op, Outbox.changed_at)
        if objects:
            query = query.where(Outbox.object.in_(list(objects)))
        with self._engine.connect() as connection:
            rows = connection.execute(query.order_by(Outbox.seq.desc()).limit(count)).all()
        return [OutboxRow(r.seq, r.object, r.key, r.op, _utc(r.changed_at)) for r in reversed(rows)]

    def read_after(self, seq: int, objects: Sequence[str] | None = None, limit: int = 500) -> list[OutboxRow]:
        with self._engine.connect() as connection:
            snapshot = _Snapshot(lambda: self._snapshot(connection), lambda: self._next_xid(connection))
            seqs = self._scan(connection, seq)
            if not self.is_postgresql:
                upto = seqs[-1] if seqs else seq
            else:
                upto = self._gaps.upto(seq, seqs, snapshot)
            rows = self._rows(connection, seq, upto, objects, limit)
        result = [OutboxRow(r.seq, r.object, r.key, r.op, _utc(r.changed_at)) for r in rows]
        # Everything up to ``upto`` was seen unless the limit cut the read short.
        self.horizon = result[-1].seq if len(result) == limit else max(upto, seq)
        self._last_seen = max(self._last_seen, upto)
        self._gaps.forget(self.horizon, snapshot)
        return result

    def _scan(self, connection, after: int) -> list[int]:  # noqa: ANN001
        """The seqs after ``after`` now visible, at most SCAN of them: what the gap analysis reads."""
        query = select(Outbox.seq).where(Outbox.seq > after).order_by(Outbox.seq).limit(SCAN)
        return [r[0] for r in connection.execute(query)]

    def _rows(self, connection, after: int, upto: int, objects: Sequence[str] | None, limit: int) -> list[Any]:  # noqa: ANN001
        query = select(Outbox.seq, Outbox.object, Outbox.key, Outbox.op, Outbox.changed_at).where(
            Outbox.seq > after, Outbox.seq <= upto
        )
        if objects:
            query = query.where(Outbox.object.in_(list(objects)))
        return list(connection.execute(query.order_by(Outbox.seq).limit(limit)).all())

    def _next_xid(self, connection) -> int:  # noqa: ANN001
        """A transaction id above every id handed out before: this read's transaction is given
        one (the next) and ends with it here, so a snapshot taken after this sees it completed.
        Called once per read that meets a gap for the first time."""
        value = connection.execute(text("SELECT pg_current_xact_id()::text::bigint")).scalar_one()
        connection.commit()
        return int(value)

    def _snapshot(self, connection) -> tuple[int, int]:  # noqa: ANN001
        """(xmin, xmax) of the current snapshot: the oldest transaction id still open anywhere in
        the cluster *below xmax*, and one past the newest completed transaction (not the next id
        to be handed out: see the module's docstring)."""
        xmin, xmax = connection.execute(
            text(
                "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint "
                "FROM (SELECT pg_current_snapshot() AS s) AS snap"
            )
        ).one()
        return int(xmin), int(xmax)

    # --- waiting --------------------------------------------------------------------------

    def wait(self, timeout: float) -> bool:
        """Block until the outbox may hold new rows (True) or ``timeout`` seconds pass (False)."""
        if self.is_postgresql:
            return self._wait_notify(timeout)
        deadline = time.monotonic() + timeout
        while True:
            before = self._last_seen
            if self.max_seq() > before:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(self.poll_interval, remaining))

    def _listen(self) -> None:
        import psycopg

        conninfo = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._listener = psycopg.connect(conninfo, autocommit=True)
        self._listener.execute(f"LISTEN {CHANNEL}")

    def _wait_notify(self, timeout: float) -> bool:
        import psycopg

        try:
            if self._listener is None or self._listener.closed:
                self._listen()
            woke = False
            for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                woke = True
            # drain what else is queued, so the next wait does not return at once for old news
            for _ in self._listener.notifies(timeout=0):
                pass
            return woke
        except psycopg.OperationalError:
            # A lost listener connection: reconnect on the next call and let the caller re-read
            # now, since a notification may have been missed while it was down.
            self._listener = None
            return True

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._engine.dispose()

    def __enter__(self) -> "OutboxReader":
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.close()


class _Snapshot:
    """The snapshot's (xmin, xmax), asked of the database at most once per read, and only when a
    gap needs it; ``bound()``, an id above every transaction id handed out so far, asked at most
    once per read and always before the snapshot (taken after it, the snapshot can show the
    gap's writers over in this same read)."""

    def __init__(self, fetch: Callable[[], tuple[int, int]], bound: Callable[[], int]) -> None:
        self._fetch = fetch
        self._bound = bound
        self._value: tuple[int, int] | None = None
        self._bound_value: int | None = None

    def __call__(self) -> tuple[int, int]:
        if self._value is None:
            self._value = self._fetch()
        return self._value

    def bound(self) -> int:
        if self._bound_value is None:
            self._bound_value = self._bound()
        return self._bound_value


#: in GapMemory: a gap whose transactions are all over (it can no longer fill)
OVER = 0


class GapMemory:
    """The gaps a PostgreSQL reader has seen: first missing seq → a transaction id above every
    id handed out when the gap was first seen (``OVER`` once every transaction open then has
    ended).

    A transaction that writes seq ``n`` has its id before ``n`` is handed out, so when seq ``m >
    n`` is already visible, whoever holds ``n`` has an id below that bound: once a snapshot's
    xmin reaches it, none of them is open and the gap is final (filled or for good empty).
    """

    def __init__(self) -> None:
        self._noted: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._noted)

    def upto(self, after: int, seqs: Sequence[int], snapshot: _Snapshot) -> int:
        """The highest seq (within ``seqs``, the visible ones after ``after`` in order) below which
        no row can still appear."""
        if not seqs:
            return after
        for seq in seqs:  # filled: nothing left to wait for there
            self._noted.pop(seq, None)
        expected = after + 1
        for value in seqs:
            if value != expected:  # a gap: seq expected .. value-1 not visible
                noted = self._noted.get(expected)
                if noted is None:  # first seen: the bound before the snapshot
                    noted = self._noted[expected] = snapshot.bound()
                xmin, _ = snapshot()
                if xmin < noted:  # a transaction open at first sight may still commit into it
                    return expected - 1
                # Kept (as over) until the horizon passes it: forgotten now, a read that the
                # limit cut short would meet it again and wait anew for the newest transactions.
                self._noted[expected] = OVER
            expected = value + 1
        return seqs[-1]

    def forget(self, horizon: int, snapshot: Callable[[], tuple[int, int]]) -> None:
        """Forget the gaps at or below ``horizon`` that can no longer fill. One that may still
        fill stays: another cursor on this reader (a status check) may still be behind it."""
        for seq in [seq for seq in self._noted if seq <= horizon]:
            if self._noted[seq] <= snapshot()[0]:  # OVER, or every transaction open then is over
                del self._noted[seq]


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)
