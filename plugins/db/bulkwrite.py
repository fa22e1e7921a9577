"""The db target's bulk path (``write_rows``/``flush`` of ``runtime.plugin``), mixed into
``TableTarget``: rows in tuple form go to the same place by the same rules as records (evolve the
table, COPY into an empty table or the refresh stage, else upsert by key), without an Item per row.

On PostgreSQL a COPY stays open across batches until the engine asks for durability
(``durable=True`` or ``flush()``): the server ingests while the next batch is read, and there is
one commit per durable point instead of one per batch (bench/bench_db_replication.py: 0.59 of a
plain COPY with a commit per batch, 0.87 with groups of 100,000 rows). Upserts (a table that
already has rows: incremental runs, the outbox's changes) stream the same way into one temporary
stage per table and group, applied with one ``INSERT ... ON CONFLICT`` when the group is made
durable (or before anything else touches the database); a key already in the stage applies it
first, so the stage holds each key once and the later row wins. A stage of ``APPLY_BEHIND_ROWS``
rows or more is applied on a thread while the engine reads the next batch from the source (the
outbox's chunks of interface 0: the server's upsert of one chunk beside the read of the next),
and waited for before the connection is used again; it commits nothing, so the durable point and
what a failure rolls back stay as they were. On SQLite the rows are inserted or upserted in the
open transaction. A failure rolls back everything not yet durable and raises;
the engine then sends those batches again through ``write``, row refusals included.
"""

from __future__ import annotations

import contextlib
import threading
from operator import itemgetter
from typing import TYPE_CHECKING

from runtime.errors import ConfigError, TransientError
from runtime.gcpause import paused_gc
from runtime.plugin import Rows

from plugins.db import schema as shapes
from plugins.db.dsn import quote_identifier as q

if TYPE_CHECKING:
    from plugins.db.target import TableState

#: a stage of at least this many rows is applied while the source reads on (PostgreSQL), not at
#: the durable point; a smaller one waits for more rows (each apply costs a stage of its own)
APPLY_BEHIND_ROWS = 2000


class BulkWrites:
    """Needs of the host class: connection, dialect, tables, views_done, open(), _state(),
    _evolve_kinds(), _rollback(), _drop_connection(), _create_views()."""

    _copy = None  # the open COPY: (context manager, copy, cursor, (table, columns))
    _pending = False  # rows written but not yet committed
    _upsert = None  # the open upsert stage: (table state, stage, columns, keys in it, key of a row)
    _behind: _Behind | None = None  # a stage being applied while the caller goes on

    def write_rows(self, rows: Rows, *, durable: bool = True) -> None:
        self.open()
        with paused_gc(), self._undo_on_failure(rows.object):
            self._catch_up()
            self._pending = True
            self._write_rows(rows)
            if durable:
                self._make_durable()
            elif self._upsert is not None and len(self._upsert[3]) >= APPLY_BEHIND_ROWS:
                self._apply_behind()

    def flush(self) -> None:
        if self.connection is None or not self._pending:
            return
        with self._undo_on_failure("(flush)"):
            self._make_durable()

    def _apply_behind(self) -> None:
        """Apply the open stage on a thread of its own: the server runs the upsert while the
        engine reads the next batch from the source (the driver waits without the GIL). Nothing
        else touches the connection until ``_catch_up`` has waited for it; nothing is committed."""
        self._end_copy()
        state, stage, columns, _keys = self._upsert
        self._upsert = None
        self._behind = _Behind(lambda: self.dialect.apply_upsert_stage(state.qualified, stage, columns, state.keys))

    def _catch_up(self) -> None:
        """Wait for the stage applied behind, if any; raise what it raised."""
        behind, self._behind = self._behind, None
        if behind is not None:
            behind.wait()

    def _make_durable(self) -> None:
        self._end_stream()
        self.connection.commit()
        self._pending = False
        if not self.views_done:
            self._create_views(quiet=True)

    @contextlib.contextmanager
    def _undo_on_failure(self, table: str):
        try:
            yield
        except Exception as exc:
            self._pending = False
            self._abort_stream()
            rolled_back = self._rollback()
            if isinstance(exc, (ConfigError, TransientError)):
                raise
            if not rolled_back or _is_connection_problem(exc):
                self._drop_connection()
                raise TransientError(f"table {table}: connection lost ({type(exc).__name__})") from None
            raise

    def _write_rows(self, rows: Rows) -> None:
        if rows.object not in self.tables:
            self._end_stream()  # learning a table's shape queries the database
        state = self._state(rows.object, [])
        if not state.keys:
            state.keys = list(rows.keys)
        incoming = shapes.infer_columns(rows.columns, rows.data)
        if self._needs_ddl(state, incoming):
            self._end_stream()
            self._evolve_kinds(state, incoming)
            self.connection.commit()  # DDL kept even if the rows are refused below
        columns = list(state.columns)
        data = _reorder(rows, state, columns)
        adapt = self.dialect.adapt([state.columns[c] for c in columns])
        if adapt is not None:
            data = [adapt(r) for r in data]
        if state.stage is not None or state.direct:
            self._stream(state.stage or state.qualified, columns, data)
        else:
            self._stage_upserts(state, columns, data)

    def _stage_upserts(self, state: TableState, columns: list[str], data: list[tuple]) -> None:
        """Rows to upsert: into the open stage of their table (PostgreSQL), else upserted now."""
        at = [columns.index(k) for k in state.keys]
        key = itemgetter(*at)  # a value for one key column, a tuple for several
        by_key = {key(r): r for r in data}  # last wins
        if len(by_key) < len(data):
            data = list(by_key.values())
        if self.dialect.name != "postgresql":
            self._end_stream()
            self.dialect.upsert(state.qualified, columns, state.keys, data)
            return
        staged = self._upsert
        if staged is not None and (staged[0] is not state or staged[2] != columns or not by_key.keys().isdisjoint(staged[3])):
            self._end_stream()  # applies the open stage: a key comes again, or another table
            staged = None
        if staged is None:
            self._end_copy()
            stage = self.dialect.open_upsert_stage(state.qualified)
            staged = self._upsert = (state, stage, columns, set())
        self._stream(staged[1], columns, data)
        staged[3].update(by_key)

    def _needs_ddl(self, state: TableState, incoming: dict[str, str]) -> bool:
        if not state.columns:
            return True
        for column, kind in incoming.items():
            existing = state.columns.get(state.renames.get(column, column))
            if existing is None or not shapes.compatible(existing, kind):
                return True
        return False

    def _stream(self, qtable: str, columns: list[str], data: list[tuple]) -> None:
        """Rows into ``qtable``: one COPY kept open across batches (PostgreSQL), else inserts."""
        if self.dialect.name != "postgresql":
            self.dialect.insert(qtable, columns, data)
            return
        if self._copy is None or self._copy[3] != (qtable, columns):
            self._end_copy()
            cursor = self.connection.cursor()
            manager = cursor.copy(f"COPY {qtable} ({', '.join(q(c) for c in columns)}) FROM STDIN")
            self._copy = (manager, manager.__enter__(), cursor, (qtable, columns))
        write = self._copy[1].write_row
        for row in data:
            write(row)

    def _end_stream(self) -> None:
        """End the open COPY, and apply the open upsert stage: every row written is in its table."""
        self._catch_up()
        self._end_copy()
        if self._upsert is not None:
            state, stage, columns, _keys = self._upsert
            self._upsert = None
            self.dialect.apply_upsert_stage(state.qualified, stage, columns, state.keys)

    def _end_copy(self) -> None:
        if self._copy is not None:
            manager, _copy, cursor, _ = self._copy
            self._copy = None
            manager.__exit__(None, None, None)
            cursor.close()

    def _abort_stream(self) -> None:
        behind, self._behind = self._behind, None
        if behind is not None:
            behind.wait(quiet=True)  # its work is rolled back with the rest
        self._upsert = None  # the rollback takes the stage along
        if self._copy is not None:
            manager, _copy, cursor, _ = self._copy
            self._copy = None
            try:
                error = RuntimeError("bulk write abandoned")
                manager.__exit__(RuntimeError, error, None)
                cursor.close()
            except Exception:
                pass


class _Behind:
    """``work`` run on a thread; ``wait`` joins it and raises what it raised."""

    def __init__(self, work) -> None:
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(work,), name="koppel-db-apply", daemon=True)
        self.thread.start()

    def _run(self, work) -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - raised again by wait(), in the caller's thread
            self.error = exc

    def wait(self, *, quiet: bool = False) -> None:
        self.thread.join()
        if self.error is not None and not quiet:
            raise self.error


def _reorder(rows: Rows, state: "TableState", columns: list[str]) -> list[tuple]:
    """The bulk rows in the target's column order (``_rows`` for tuples): as they are when the
    columns match, which is the common case."""
    fields: list[str | None] = list(columns)
    if state.renames:
        back = {new: old for old, new in state.renames.items()}
        fields = [back.get(c, None if c in state.renames else c) for c in columns]
    if fields == rows.columns:
        return rows.data
    at = {c: i for i, c in enumerate(rows.columns)}
    positions = [at.get(f) if f is not None else None for f in fields]
    return [tuple(row[i] if i is not None else None for i in positions) for row in rows.data]


def _is_connection_problem(exc: Exception) -> bool:
    from plugins.db.target import _is_connection_problem as check

    return check(exc)
