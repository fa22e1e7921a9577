"""Access to the state database. Every write that must agree with another is one transaction.

The important one is ``commit_batch``: deliveries, lineage, dead letters, run counts and the
source cursor of one acknowledged batch are written together, so after a crash the cursor and
the run history never disagree (a batch is either fully recorded or sent again).

The ledger is written per step in bulk, its rows handed to the database once, into a temporary
table, from which one upsert of the deliveries and one insert of the lineage read them: on SQLite
one ``executemany`` into it (``_stage_ledger``), on PostgreSQL one COPY (``_copy_ledger``).

SQLite state: durability, decided (issue 15). The state database runs in WAL mode with
``synchronous=NORMAL``. A commit returns once its pages are in the WAL file: a killed process
(SIGKILL, OOM, a crash of Koppel itself) loses nothing it committed, which is what
tests/engine/test_engine_crash.py kills for. The WAL is synced to disk at checkpoints, not at
every commit, so a power loss or a kernel crash may roll the state back to an earlier commit;
since the cursor, the ledger, the dead letters and the counts of a step are one transaction,
they roll back together and the lost steps' records are read and sent again, and the targets'
idempotency (Idempotency-Key, upserts) drops the repeats: nothing is lost, some may be re-sent.
``synchronous=FULL`` would add a disk flush to every step for the power-loss case alone; an
operator who wants no re-send after a power loss runs the state on PostgreSQL (with its own
``synchronous_commit``). Not taken: ``synchronous=OFF`` or a memory journal, which can lose or
corrupt committed steps on an OS crash or, for the journal, on a process crash.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime.engine.state import crypto
from runtime.engine.state.common import holder_id, jsonable, sqlalchemy_core, utcnow  # noqa: F401 (re-exported)
from runtime.engine.state.connections import Connections, EngineConnections, Transaction, driver_connections
from runtime.engine.state.coordination import LeasesAndInbox
from runtime.errors import TransientError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

COUNTS = ("read", "mapped", "filtered", "skipped", "delivered", "failed", "dead")


class LeaseLost(TransientError):
    """Another daemon holds the interface's lease now: this run may record nothing more."""


@dataclass
class DeliveryRow:
    target: str
    idempotency_key: str
    payload_hash: str
    status: str  # delivered failed dead
    attempts: int
    source_key: str
    last_error: str | None = None
    reference: str | None = None
    mapping_version: str | None = None


@dataclass
class DeadLetterRow:
    stage: str
    record: dict
    reason: str
    error_class: str
    target: str | None = None
    idempotency_key: str | None = None
    source_key: str | None = None
    payload: Any = None
    error_code: str | None = None
    attempts: int = 1
    first_attempt_at: dt.datetime | None = None


@dataclass
class BatchResult:
    """Everything one acknowledged batch leaves in the state database."""

    deliveries: list[DeliveryRow] = field(default_factory=list)
    dead: list[DeadLetterRow] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


class StateStore(LeasesAndInbox):
    """The run's own statements (its row, lease, cursor, ledger, counts) go through the driver
    (``connections.py``); the rest through SQLAlchemy Core, whose engine is made on first use."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self._engine: Engine | None = None
        self.db: Connections = driver_connections(url) or EngineConnections(self.engine)
        if migrate and not self._is_current():
            from runtime.dberrors import database_outage
            from runtime.engine.state.migrate import migrate as run_migrations

            # a database that cannot be reached is said plainly (TransientError), not as a bug
            with database_outage("the state database (KOPPEL_STATE_URL)"):
                run_migrations(self.engine)

    @property
    def engine(self) -> Engine:
        """SQLAlchemy's engine, for what is not on a run's path (made the first time it is asked)."""
        if self._engine is None:
            self._engine = _create_engine(self.url)
        return self._engine

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def _is_current(self) -> bool:
        """The schema is at the migration scripts' heads: nothing to migrate, no Alembic (nor
        SQLAlchemy) to import. Any doubt (a new database has no version table): not current,
        and Alembic decides and reports."""
        from runtime.engine.state.common import VERSION_TABLE
        from runtime.engine.state.migrate import at_heads

        try:
            with self.db.read() as c:
                stamped = {row[0] for row in c.all(f"SELECT version_num FROM {VERSION_TABLE}")}
        except Exception:  # noqa: BLE001 - see above
            return False
        return at_heads(stamped)

    def close(self) -> None:
        self.db.close()
        if self._engine is not None:
            self._engine.dispose()

    # -- runs ----------------------------------------------------------------------------------

    def start_run(self, interface_id: int, trigger: str, *, run_key: str | None = None, holder: str | None = None) -> int | None:
        """A new run row; None when ``run_key`` was already claimed (another daemon runs it)."""
        sql = (f"INSERT INTO koppel_runs (interface_id, trigger, run_key, started_at, outcome, holder, "
               f"{', '.join(COUNTS)}) VALUES (?, ?, ?, ?, 'running', ?{', 0' * len(COUNTS)})")
        params = (interface_id, trigger, run_key, self.timestamp(utcnow()), holder)
        try:
            with self.db.begin() as c:
                return self.inserted(c, sql, params)
        except self.db.IntegrityError:
            return None

    def inserted(self, c: Transaction, sql: str, params: Sequence[Any]) -> int:
        """Insert one row and return its id."""
        if self.dialect == "sqlite":
            return c.execute(sql, params).lastrowid
        row = c.one(f"{sql} RETURNING id", params)
        assert row is not None  # an INSERT of one row returns it
        return row[0]

    def finish_run(self, run_id: int, outcome: str, message: str | None = None, *,
                   fence: tuple[str, str] | None = None) -> bool:
        """Close a run; with ``fence``, only while its lease is still ours (False otherwise: the
        daemon that took the interface over has closed or resumed it and owns its story)."""
        with self.db.begin() as c:
            if fence is not None:
                try:
                    self.fenced(c, *fence)
                except LeaseLost:
                    return False
            c.execute("UPDATE koppel_runs SET outcome = ?, message = ?, ended_at = ? WHERE id = ?",
                      (outcome, message, self.timestamp(utcnow()), run_id))
        return True

    def delete_run(self, run_id: int) -> None:
        with self.db.begin() as c:
            c.execute("DELETE FROM koppel_runs WHERE id = ?", (run_id,))

    def add_counts(self, run_id: int, counts: dict[str, int], connection: Transaction | None = None) -> None:
        added = [(k, int(v)) for k, v in counts.items() if v]
        if not added:
            return
        for name, _ in added:
            if name not in COUNTS:
                raise ValueError(f"no such count: {name}")
        sql = f"UPDATE koppel_runs SET {', '.join(f'{k} = {k} + ?' for k, _ in added)} WHERE id = ?"
        params = (*(v for _, v in added), run_id)
        if connection is not None:
            connection.execute(sql, params)
        else:
            with self.db.begin() as c:
                c.execute(sql, params)

    def run(self, run_id: int) -> dict | None:
        sa, m = sqlalchemy_core()
        with self.engine.connect() as c:
            row = c.execute(sa.select(m.runs).where(m.runs.c.id == run_id)).mappings().first()
        return dict(row) if row else None

    def list_runs(self, interface_id: int | None = None, limit: int = 20) -> list[dict]:
        sa, m = sqlalchemy_core()
        q = sa.select(m.runs).order_by(m.runs.c.id.desc()).limit(limit)
        if interface_id is not None:
            q = q.where(m.runs.c.interface_id == interface_id)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def close_orphaned_runs(self, interface_id: int) -> int:
        """Runs left 'running' by a process that is gone are marked 'crashed'. Called by the new
        holder of the interface's lease, so no live run is ever touched."""
        with self.db.begin() as c:
            rows = c.all("SELECT id, holder FROM koppel_runs WHERE interface_id = ? AND outcome = 'running'",
                         (interface_id,))
            mine = holder_id()
            stale = [run_id for run_id, holder in rows if holder != mine]
            if stale:
                c.executemany("UPDATE koppel_runs SET outcome = 'crashed', ended_at = ?, message = ? WHERE id = ?",
                              [(self.timestamp(utcnow()),
                                "the process running it stopped; its last batch was sent again", run_id)
                               for run_id in stale])
        return len(stale)

    # -- cursors -------------------------------------------------------------------------------

    def cursor(self, interface_id: int, source: str) -> str | None:
        with self.db.read() as c:
            row = c.one("SELECT cursor FROM koppel_cursors WHERE interface_id = ? AND source = ?", (interface_id, source))
        return row[0] if row else None

    def _set_cursor(self, c: Transaction, interface_id: int, source: str, cursor: str | None, run_id: int | None) -> None:
        c.execute("INSERT INTO koppel_cursors (interface_id, source, cursor, run_id, updated_at) VALUES (?, ?, ?, ?, ?) "
                  "ON CONFLICT (interface_id, source) DO UPDATE SET cursor = excluded.cursor, "
                  "run_id = excluded.run_id, updated_at = excluded.updated_at",
                  (interface_id, source, cursor, run_id, self.timestamp(utcnow())))

    def set_cursor(self, interface_id: int, source: str, cursor: str | None, run_id: int | None = None) -> None:
        with self.db.begin() as c:
            self._set_cursor(c, interface_id, source, cursor, run_id)

    # -- the ledger ----------------------------------------------------------------------------

    def ledger(self, interface_id: int, target: str, keys: Iterable[str]) -> dict[str, tuple[str, str]]:
        """idempotency key → (payload hash, status) of what was recorded for these keys."""
        keys = list(set(keys))
        found: dict[str, tuple[str, str]] = {}
        # once per batch, on the hot path: driver SQL (compiling a 900-parameter IN in SQLAlchemy
        # cost ~0.1 s per batch of 1000); PostgreSQL takes the keys as one array
        head = "SELECT idempotency_key, payload_hash, status FROM koppel_deliveries WHERE interface_id = "
        with self.db.read() as c:
            if self.dialect == "postgresql":  # the keys as one array
                rows = c.all(f"{head}? AND target = ? AND idempotency_key = ANY(?)", (interface_id, target, keys))
                return {r[0]: (r[1], r[2]) for r in rows}
            for i in range(0, len(keys), 900):  # SQLite: at most 999 parameters a statement
                chunk = keys[i : i + 900]
                sql = f"{head}? AND target = ? AND idempotency_key IN ({', '.join('?' * len(chunk))})"
                found.update({r[0]: (r[1], r[2]) for r in c.all(sql, (interface_id, target, *chunk))})
        return found

    def delivery(self, interface_id: int, target: str, key: str) -> dict | None:
        sa, m = sqlalchemy_core()
        d = m.deliveries.c
        with self.engine.connect() as c:
            row = c.execute(sa.select(m.deliveries).where(
                d.interface_id == interface_id, d.target == target, d.idempotency_key == key)).mappings().first()
        return dict(row) if row else None

    def commit_batch(self, interface_id: int, run_id: int | None, result: BatchResult, *,
                     source: str | None = None, cursor: str | None = None, move_cursor: bool = False,
                     fence: tuple[str, str] | None = None) -> list[int]:
        """Record one acknowledged batch atomically; returns the ids of new dead letters.

        ``fence`` (lease name, holder): record only while that lease is still ours, checked in the
        same transaction (LeaseLost otherwise), so a run whose lease expired under it (a stalled
        heartbeat) cannot record beside the survivor that took the interface over."""
        now = utcnow()
        dead_ids: list[int] = []
        with self.db.begin() as c:
            if fence is not None:
                self.fenced(c, *fence)
            if result.deliveries:
                self._upsert_deliveries(c, interface_id, run_id, result.deliveries, now)
            for dl in result.dead:
                dead_ids.append(self._insert_dead_letter(c, interface_id, run_id, dl, now))
            if run_id is not None:
                self.add_counts(run_id, result.counts, connection=c)
            if move_cursor and source is not None:
                self._set_cursor(c, interface_id, source, cursor, run_id)
        return dead_ids

    # The ledger is the hot path of a large run: plain driver executemany, no per-row work in
    # SQLAlchemy (about twice the rows/s of Core here, see research/performance-notes.md).
    _DELIVERY_COLUMNS = ("interface_id", "target", "idempotency_key", "payload_hash", "status", "attempts",
                         "last_error", "reference", "run_id", "source_key", "mapping_version", "first_at",
                         "updated_at", "delivered_at")
    _LINEAGE_COLUMNS = ("interface_id", "target", "idempotency_key", "run_id", "source_key", "mapping_version",
                        "payload_hash", "status", "reference", "at")

    def _sql(self, name: str) -> str:
        mark = "?"
        cols: tuple[str, ...]
        if name == "lineage":
            cols = self._LINEAGE_COLUMNS
            return f"INSERT INTO koppel_lineage ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
        cols = self._DELIVERY_COLUMNS
        return (f"INSERT INTO koppel_deliveries ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))}) "
                "ON CONFLICT (interface_id, target, idempotency_key) DO UPDATE SET "
                "payload_hash = excluded.payload_hash, status = excluded.status, "
                "attempts = koppel_deliveries.attempts + excluded.attempts, last_error = excluded.last_error, "
                "reference = COALESCE(excluded.reference, koppel_deliveries.reference), run_id = excluded.run_id, "
                "source_key = excluded.source_key, mapping_version = excluded.mapping_version, "
                "updated_at = excluded.updated_at, "
                "delivered_at = COALESCE(excluded.delivered_at, koppel_deliveries.delivered_at)")

    def timestamp(self, value: dt.datetime) -> Any:
        # SQLAlchemy's SQLite DateTime writes and reads back this exact text form (naive UTC)
        if self.dialect == "sqlite":
            return value.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")
        return value

    def _upsert_deliveries(self, c: Transaction, interface_id: int, run_id: int | None, rows: Sequence[DeliveryRow], now) -> None:
        ts = self.timestamp(now)
        if self._copy_ledger(c, interface_id, run_id, rows, ts) or self._stage_ledger(c, interface_id, run_id, rows, ts):
            return
        deliveries = [(interface_id, r.target, r.idempotency_key, r.payload_hash, r.status, r.attempts, r.last_error,
                       r.reference, run_id, r.source_key, r.mapping_version, ts, ts,
                       ts if r.status == "delivered" else None) for r in rows]
        lineage = [(interface_id, r.target, r.idempotency_key, run_id, r.source_key, r.mapping_version, r.payload_hash,
                    r.status, r.reference, ts) for r in rows]
        c.executemany(self._sql("deliveries"), deliveries)  # SQLite: one executemany in the batch's transaction
        c.executemany(self._sql("lineage"), lineage)

    #: what a step's ledger rows carry to PostgreSQL per row; the interface, run and time are the
    #: step's own and go as parameters of the two statements that read them
    _COPY_COLUMNS = ("target", "idempotency_key", "payload_hash", "status", "attempts", "last_error", "reference",
                     "source_key", "mapping_version")

    def _copy_ledger(self, c: Transaction, interface_id: int, run_id: int | None, rows: Sequence[DeliveryRow],
                     ts: Any) -> bool:
        """PostgreSQL (psycopg): COPY the step's rows into a temporary table, then one upsert of
        the deliveries and one insert of the lineage, both read from it on the server: the rows
        cross the wire once, with only their own columns (the step's interface, run and time are
        parameters). False (use executemany) on another driver or when a key repeats within the
        step (one INSERT ... ON CONFLICT cannot update a row twice; executemany applies them in
        order)."""
        if self.dialect != "postgresql" or not hasattr(c.cursor, "copy") or len(rows) < 2:  # psycopg 3
            return False
        if len({(r.target, r.idempotency_key) for r in rows}) != len(rows):
            return False
        cols = ", ".join(self._COPY_COLUMNS)
        cur = c.cursor
        # per session, emptied at every commit: no rows of one step are seen by the next. Asked
        # for in every step (a fraction of a millisecond): a step rolled back takes the table
        # made in it along, so a flag kept beside the connection could outlive the table.
        # Its columns are the deliveries table's own, so the two cannot drift apart.
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS koppel_ledger_in ON COMMIT DELETE ROWS AS "
                    f"SELECT {cols} FROM koppel_deliveries WITH NO DATA")
        with cur.copy(f"COPY koppel_ledger_in ({cols}) FROM STDIN") as copy:
            write = copy.write_row
            for r in rows:
                write((r.target, r.idempotency_key, r.payload_hash, r.status, r.attempts, r.last_error,
                       r.reference, r.source_key, r.mapping_version))
        insert = self._sql("deliveries")
        values = f"VALUES ({', '.join(['?'] * len(self._DELIVERY_COLUMNS))})"
        cur.execute(insert.replace(values, (
            "SELECT %(iid)s::integer, target, idempotency_key, payload_hash, status, attempts, last_error, "
            "reference, %(run)s::bigint, source_key, mapping_version, %(ts)s::timestamptz, %(ts)s::timestamptz, "
            "CASE WHEN status = 'delivered' THEN %(ts)s::timestamptz END FROM koppel_ledger_in")),
            {"iid": interface_id, "run": run_id, "ts": ts})
        cur.execute(f"INSERT INTO koppel_lineage ({', '.join(self._LINEAGE_COLUMNS)}) "
                    "SELECT %(iid)s::integer, target, idempotency_key, %(run)s::bigint, source_key, mapping_version, "
                    "payload_hash, status, reference, %(ts)s::timestamptz FROM koppel_ledger_in",
                    {"iid": interface_id, "run": run_id, "ts": ts})
        return True

    def _stage_ledger(self, c: Transaction, interface_id: int, run_id: int | None, rows: Sequence[DeliveryRow],
                      ts: Any) -> bool:
        """SQLite: the step's rows bound once, into a temporary table (no index, this connection's
        own), then the deliveries' upsert and the lineage's insert read from it inside SQLite:
        ~0.7x the time of an ``executemany`` of each statement, which binds every row twice (14
        and 10 parameters). In the rows' order (``rowid``), so a key repeated within the step is
        applied as ``executemany`` applied it: attempts add up, the last status stays. Emptied in
        the step's own transaction: a step rolled back takes its rows along."""
        if self.dialect != "sqlite" or len(rows) < 2:
            return False
        cols = ", ".join(self._COPY_COLUMNS)
        c.execute(f"CREATE TEMP TABLE IF NOT EXISTS koppel_ledger_in ({cols})")
        c.executemany(f"INSERT INTO temp.koppel_ledger_in ({cols}) VALUES ({', '.join('?' * len(self._COPY_COLUMNS))})",
                      [(r.target, r.idempotency_key, r.payload_hash, r.status, r.attempts, r.last_error, r.reference,
                        r.source_key, r.mapping_version) for r in rows])
        insert = self._sql("deliveries")
        values = f"VALUES ({', '.join(['?'] * len(self._DELIVERY_COLUMNS))})"
        # WHERE true: SQLite's rule for an INSERT ... SELECT with an upsert clause (else ON is read as a join's)
        c.execute(insert.replace(values, (
            "SELECT ?1, target, idempotency_key, payload_hash, status, attempts, last_error, reference, ?2, "
            "source_key, mapping_version, ?3, ?3, CASE WHEN status = 'delivered' THEN ?3 END "
            "FROM temp.koppel_ledger_in WHERE true ORDER BY rowid")), (interface_id, run_id, ts))
        c.execute(f"INSERT INTO koppel_lineage ({', '.join(self._LINEAGE_COLUMNS)}) "
                  "SELECT ?1, target, idempotency_key, ?2, source_key, mapping_version, payload_hash, status, reference, "
                  "?3 FROM temp.koppel_ledger_in ORDER BY rowid", (interface_id, run_id, ts))
        c.execute("DELETE FROM temp.koppel_ledger_in")
        return True

    def _insert_dead_letter(self, c: Transaction, interface_id: int, run_id: int | None, dl: DeadLetterRow,
                            now: dt.datetime) -> int:
        # the JSON columns as SQLAlchemy's JSON type writes them: json.dumps of the value (a sealed
        # value is a JSON string; None is JSON null, not SQL NULL)
        record = json.dumps(crypto.seal(jsonable(dl.record)))
        payload = json.dumps(crypto.seal(jsonable(dl.payload)))
        cast = "" if self.dialect == "sqlite" else "::json"
        return self.inserted(c, (
            "INSERT INTO koppel_dead_letters (interface_id, run_id, target, stage, idempotency_key, source_key, "
            "record, payload, reason, error_class, error_code, attempts, first_attempt_at, last_attempt_at, status) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?{cast}, ?{cast}, ?, ?, ?, ?, ?, ?, 'open')"),
            (interface_id, run_id, dl.target, dl.stage, dl.idempotency_key, dl.source_key, record, payload,
             dl.reason, dl.error_class, dl.error_code, dl.attempts, self.timestamp(dl.first_attempt_at or now),
             self.timestamp(now)))

    def lineage_of(self, interface_id: int, key: str) -> list[dict]:
        sa, m = sqlalchemy_core()
        q = sa.select(m.lineage).where(m.lineage.c.interface_id == interface_id,
                                    m.lineage.c.idempotency_key == key).order_by(m.lineage.c.id)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings()]

    # -- dead letters --------------------------------------------------------------------------

    def dead_letters(self, *, interface_id: int | None = None, since: dt.datetime | None = None,
                     error_class: str | None = None, status: str | None = "open", limit: int = 100,
                     ids: Sequence[int] | None = None) -> list[dict]:
        sa, m = sqlalchemy_core()
        t = m.dead_letters.c
        conds = []
        if interface_id is not None:
            conds.append(t.interface_id == interface_id)
        if since is not None:
            conds.append(t.last_attempt_at >= since)
        if error_class:
            conds.append(t.error_class == error_class)
        if status:
            conds.append(t.status == status)
        if ids:
            conds.append(t.id.in_(list(ids)))
        q = sa.select(m.dead_letters).where(sa.and_(True, *conds)).order_by(t.id).limit(limit)
        with self.engine.connect() as c:  # record and payload opened here: replay, show and the console
            return [crypto.unseal_fields(dict(r), "record", "payload") for r in c.execute(q).mappings()]

    def dead_letter(self, dead_id: int) -> dict | None:
        rows = self.dead_letters(ids=[dead_id], status=None, limit=1)
        return rows[0] if rows else None

    def resolve_dead_letter(self, dead_id: int, status: str, resolution: str, connection=None) -> None:
        sa, m = sqlalchemy_core()
        stmt = sa.update(m.dead_letters).where(m.dead_letters.c.id == dead_id).values(
            status=status, resolution=resolution, resolved_at=utcnow())
        if connection is not None:
            connection.execute(stmt)
        else:
            with self.engine.begin() as c:
                c.execute(stmt)

    def retry_failed_dead_letter(self, dead_id: int, reason: str, error_class: str) -> None:
        """A replay that failed again: the letter stays open with the new reason and attempt."""
        sa, m = sqlalchemy_core()
        t = m.dead_letters.c
        with self.engine.begin() as c:
            c.execute(sa.update(m.dead_letters).where(t.id == dead_id).values(
                reason=reason, error_class=error_class, attempts=t.attempts + 1, last_attempt_at=utcnow()))

    def count_dead_letters(self, status: str = "open") -> dict[int, int]:
        sa, m = sqlalchemy_core()
        t = m.dead_letters.c
        with self.engine.connect() as c:
            return {r[0]: r[1] for r in c.execute(sa.select(t.interface_id, sa.func.count()).where(t.status == status).group_by(t.interface_id))}

    # -- health --------------------------------------------------------------------------------

    def ping(self) -> None:
        with self.db.read() as c:
            c.execute("SELECT 1")


def _create_engine(url: str) -> Engine:
    from sqlalchemy import create_engine, event

    scheme, _, rest = url.partition("://")
    if scheme in ("postgresql", "postgres"):  # the driver Koppel ships, as runtime/sis/schema.py reads it
        url = f"postgresql+psycopg://{rest}"
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # WAL: readers never wait for the writer
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
