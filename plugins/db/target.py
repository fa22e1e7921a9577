"""``TableTarget``: upsert records into tables of a target database, apply deletes and refreshes.

Every item names its table (``item.object``: the source table, or ``spec.table``); the target
table is ``<schema>.<table_prefix><table>``. The schema comes from the spec, else from the
system's ``options.schema`` (the catalog sets ``datalaag`` and ``mip``). Key columns: ``spec.keys``,
else the existing table's primary key, else the columns whose values make up the records' own
keys (as the db source builds them: ``value`` or ``a|b``), else the SIS object's natural key,
else ``id``.

Per batch and table, in one transaction:
- ``upsert`` items: the table is created or evolved first (``plugins.db.schema``). When the table
  was empty at the start of the run, rows are COPYed straight in (the first load is as fast as a
  plain COPY); if a key turns up twice, that batch falls back to the upsert path and so does the
  rest of the run. Otherwise: COPY into a temporary table and one ``INSERT ... ON CONFLICT``.
- ``delete`` items: deleted by key.
- ``refresh-begin`` … ``refresh-end`` (from a full read): rows go to a stage table; at the end the
  table becomes exactly the stage in one transaction (rows not in the refresh deleted), so a reader
  of the data layer never sees a half-refreshed table. An empty table is filled directly.
- A batch the database refuses is written again row by row; only the rows it refuses get a
  RecordError outcome (e.g. a NULL key, a value out of range).

Bulk path (``write_rows``/``flush``, rows as tuples, one COPY stream per durable group): see
``plugins.db.bulkwrite``.

Views (``spec.views``, name → SELECT) are created in the target schema with ``CREATE OR REPLACE``
once their tables exist; they must name tables without a schema (see ``plugins.db.dsn``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from runtime import redact
from runtime.errors import ConfigError, RecordError, TransientError
from runtime.gcpause import paused_gc
from runtime.plugin import Item, Outcome, PluginContext, Target

from plugins.db import schema as shapes
from plugins.db.bulkwrite import BulkWrites
from plugins.db.dialects import Dialect, dialect_for
from plugins.db.dsn import Connection, connect, is_sqlite, resolve_dsn
from plugins.db.dsn import quote_identifier as q
from plugins.db.source import REFRESH_BEGIN, REFRESH_END

log = logging.getLogger("koppel.plugins.db")


@dataclass
class TableState:
    name: str
    qualified: str
    keys: list[str]
    columns: dict[str, str] = field(default_factory=dict)  # column → kind, as at the target
    renames: dict[str, str] = field(default_factory=dict)  # add_column policy: column → new column
    direct: bool = False  # empty at the start of the run: COPY straight in
    stage: str | None = None  # qualified stage table during a full refresh
    seen: bool = True  # columns as read on this connection (a lost one may have lost its DDL)


class TableTarget(BulkWrites, Target):
    def __init__(self, spec: Any, ctx: PluginContext) -> None:
        self.spec = spec
        self.ctx = ctx
        options = (ctx.system.options or {}) if ctx.system is not None else {}
        self.schema: str | None = spec.schema_ or options.get("schema")
        self.engine: Connection | None = None  # the connection and its dialect
        self.connection: Any = None  # its DBAPI connection
        self.dialect: Dialect | None = None
        self.tables: dict[str, TableState] = {}
        self.views_done = not spec.views
        self._all_upserts = False
        self._copy = None  # bulk path (bulkwrite.py): the open COPY
        self._pending = False  # bulk path: rows written but not yet committed

    # -- lifecycle ----------------------------------------------------------------------------

    def open(self) -> None:
        if self.connection is not None:
            return
        dsn = resolve_dsn(self.ctx)
        self.engine = connect(dsn, f"target {self.ctx.system_name or 'db'}",
                              attach=[self.schema] if self.schema and is_sqlite(dsn) else [])
        self.connection = self.engine.raw
        try:
            self.dialect = dialect_for(self.engine.dialect, self.connection)
            self.dialect.ensure_schema(self.schema)
            self.connection.commit()
        except Exception as exc:  # sorted below
            if not _is_connection_problem(exc):
                raise
            self._drop_connection()  # lost while setting up: a transient failure, open again later
            raise TransientError(f"target {self.ctx.system_name or 'db'}: connection lost while opening "
                                 f"({type(exc).__name__})", code="connect") from None
        self._create_views(quiet=True)

    def close(self) -> None:
        if self._pending:  # rows not flushed were never acknowledged: roll them back
            self._abort_stream()
            self._rollback()
            self._pending = False
        try:
            if self.connection is not None and not self.views_done:
                self._create_views(quiet=False)
        finally:
            self.connection = None
            if self.engine is not None:
                self.engine.close()
                self.engine = None

    def render(self, item: Item) -> str:
        import json

        table = self._table_name(item)
        return f"{item.operation} {self.schema + '.' if self.schema else ''}{table}: " + json.dumps(
            item.payload, ensure_ascii=False, default=str, indent=2)

    # -- writing -------------------------------------------------------------------------------

    def write(self, items: Sequence[Item]) -> list[Outcome]:
        self.open()
        if self._pending:
            self.flush()
        with paused_gc():
            return self._write(items)

    def _write(self, items: Sequence[Item]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(items)
        if not items:
            return []
        objects = {item.object for item in items}
        self._all_upserts = {item.operation for item in items} == {"upsert"}
        if len(objects) == 1 and self._all_upserts:
            groups = {self._table_name(items[0]): range(len(items))}  # the common case, without a loop
        else:
            groups: dict[str, list[int]] = {}
            for i, item in enumerate(items):
                groups.setdefault(self._table_name(item), []).append(i)
        for table, positions in groups.items():
            if isinstance(positions, range):
                self._write_segment(table, list(items), list(positions), outcomes)
                continue
            segment: list[int] = []
            for i in positions:
                op = items[i].operation
                if op in (REFRESH_BEGIN, REFRESH_END):
                    self._write_segment(table, [items[j] for j in segment], segment, outcomes)
                    segment = []
                    self._refresh(table, op, items[i])
                    outcomes[i] = Outcome()
                else:
                    segment.append(i)
            self._write_segment(table, [items[j] for j in segment], segment, outcomes)
        if not self.views_done:
            self._create_views(quiet=True)
        delivered = Outcome()  # one shared "ok": the engine only reads outcomes
        return [o or delivered for o in outcomes]

    def _table_name(self, item: Item) -> str:
        name = item.object or self.spec.table
        if not name:
            raise ConfigError("db target: the record names no table; set 'table' in the target")
        return name

    def _write_segment(self, table: str, items: list[Item], positions: list[int], outcomes: list) -> None:
        if not items:
            return
        if self._all_upserts:
            upserts, deletes = items, []
        else:
            upserts = [it for it in items if it.operation != "delete"]
            deletes = [it for it in items if it.operation == "delete"]
        state = None
        try:
            payloads = [it.payload for it in upserts]
            state = self._state(table, upserts[:50])
            if upserts:
                incoming = shapes.infer(payloads)
                if self._needs_ddl(state, incoming):  # else nothing to keep: no commit of its own
                    self._evolve_kinds(state, incoming)
                    self.connection.commit()  # DDL kept even if the rows are refused below
            columns = list(state.columns)
            if upserts:
                self._bulk(state, columns, upserts, has_deletes=bool(deletes))
            if deletes:
                self.dialect.delete(state.qualified, state.keys, [tuple(it.payload.get(k) for k in state.keys)
                                                                 for it in deletes])
            self.connection.commit()
        except (ConfigError, TransientError):
            self._rollback()
            raise
        except Exception as exc:
            if not self._rollback() or _is_connection_problem(exc):
                self._drop_connection()
                raise TransientError(f"table {table}: connection lost ({type(exc).__name__})") from None
            if state is None:
                raise
            log.info("table %s: batch refused (%s); writing row by row", table, type(exc).__name__)
            for position, item in zip(positions, items):
                outcomes[position] = self._write_one(state, item)

    def _bulk(self, state: TableState, columns: list[str], upserts: list[Item], has_deletes: bool) -> None:
        target = state.stage or state.qualified
        rows = _rows(upserts, state, columns)
        adapt = self.dialect.adapt([state.columns[c] for c in columns])
        if adapt is not None:
            rows = [adapt(r) for r in rows]
        if state.stage is not None or (state.direct and not has_deletes):
            try:
                self.dialect.insert(target, columns, rows)
                return
            except Exception as exc:
                if state.stage is not None or not _is_unique_violation(exc):
                    raise
                self.connection.rollback()
                state.direct = False  # a key came twice: upsert from now on
        rows = list({tuple(r[columns.index(k)] for k in state.keys): r for r in rows}.values())  # last wins
        self.dialect.upsert(state.qualified, columns, state.keys, rows)

    def _write_one(self, state: TableState, item: Item) -> Outcome:
        columns = list(state.columns)
        try:
            if item.operation == "delete":
                self.dialect.delete(state.qualified, state.keys, [tuple(item.payload.get(k) for k in state.keys)])
            else:
                if any(item.payload.get(k) is None for k in state.keys):
                    return Outcome(error=RecordError("key column is empty", path=",".join(state.keys), code="key"))
                rows = _rows([item], state, columns)
                adapt = self.dialect.adapt([state.columns[c] for c in columns])
                if adapt is not None:
                    rows = [adapt(r) for r in rows]
                if state.stage is not None:
                    self.dialect.insert(state.stage, columns, rows)
                else:
                    self.dialect.upsert(state.qualified, columns, state.keys, rows)
            self.connection.commit()
            return Outcome()
        except Exception as exc:
            if not self._rollback() or _is_connection_problem(exc):
                self._drop_connection()
                raise TransientError(f"table {state.name}: connection lost ({type(exc).__name__})") from None
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return Outcome(error=RecordError(f"table {state.name}: {redact.text(message)}", code="db"))

    def _rollback(self) -> bool:
        """Roll back; False when the connection itself is gone."""
        try:
            self.connection.rollback()
            return True
        except Exception:
            return False

    def _drop_connection(self) -> None:
        """Forget a broken connection; the next write opens a new one. The table shapes are kept
        but read again on it: DDL whose commit the lost connection took with it is not there."""
        for state in self.tables.values():
            state.seen = False
        self.connection = None
        if self.engine is not None:
            self.engine.close()
            self.engine = None

    # -- refresh -------------------------------------------------------------------------------

    def _refresh(self, table: str, op: str, item: Item) -> None:
        state = self._state(table, [])
        if op == REFRESH_BEGIN:
            exists = bool(state.columns)
            if exists and self.dialect.has_rows(state.qualified):
                state.stage = self.dialect.qualified(self.schema, f"_koppel_refresh_{self.spec.table_prefix}{table}")
                self.dialect.create_stage(state.stage, state.qualified)
                state.direct = False
            else:
                state.stage, state.direct = None, True
            self.connection.commit()
        elif state.stage is not None:
            self.dialect.merge_stage(state.qualified, state.stage, list(state.columns), state.keys)
            self.connection.commit()
            state.stage = None

    # -- table shape ---------------------------------------------------------------------------

    def _state(self, table: str, sample: list[Item]) -> TableState:
        state = self.tables.get(table)
        if state is None:
            name = f"{self.spec.table_prefix}{table}"
            found = self.dialect.columns(self.schema, name)
            columns, keys = found if found else ({}, [])
            state = TableState(table, self.dialect.qualified(self.schema, name),
                               list(self.spec.keys.get(table) or keys), dict(columns))
            state.direct = not columns or not self.dialect.has_rows(state.qualified)
            self.tables[table] = state
        elif not state.seen:
            found = self.dialect.columns(self.schema, f"{self.spec.table_prefix}{table}")
            state.columns, state.seen = (dict(found[0]) if found else {}), True
            if not found:
                state.direct = True
        if not state.keys and sample:
            present = set(sample[0].payload)
            sis_key = _sis_key(table)
            from_records = _key_columns_of(sample)
            if from_records:
                state.keys = from_records
            elif sis_key and all(k in present for k in sis_key):
                state.keys = sis_key
            elif "id" in present:
                state.keys = ["id"]
            else:
                raise ConfigError(f"db target: no key columns known for table {table}; "
                                  f"set keys: {{{table}: [...]}}")
        return state

    def _evolve(self, state: TableState, rows: list[dict]) -> None:
        self._evolve_kinds(state, shapes.infer(rows))

    def _evolve_kinds(self, state: TableState, incoming: dict[str, str]) -> None:
        if not state.columns:
            missing = [k for k in state.keys if k not in incoming]
            if missing:
                raise ConfigError(f"table {state.name}: key column(s) {missing} are not in the records")
            created = {c: shapes.concrete(k) for c, k in incoming.items()}
            self.dialect.create_table(state.qualified, created, state.keys)
            state.columns = created
            return
        policy = self.spec.on_incompatible_change
        for column, kind in incoming.items():
            column_at_target = state.renames.get(column, column)
            existing = state.columns.get(column_at_target)
            if existing is None:
                self._add(state, column_at_target, shapes.concrete(kind))
            elif not shapes.compatible(existing, kind):
                if policy == "fail":
                    raise shapes.incompatible_error(state.name, column, existing, kind)
                if policy == "add_column":
                    new = f"{column}_{kind}"
                    state.renames[column] = new
                    if new not in state.columns:
                        self._add(state, new, kind)
                    log.warning("table %s: column %s is %s, %s values now go to %s", state.name, column,
                                existing, kind, new)
                else:  # recreate
                    log.warning("table %s: column %s changed from %s to %s; table re-created, run a full "
                                "refresh", state.name, column, existing, kind)
                    self.dialect.drop_table(state.qualified)
                    merged = {**state.columns, **{c: shapes.concrete(k) for c, k in incoming.items()}}
                    self.dialect.create_table(state.qualified, merged, state.keys)
                    state.columns, state.renames, state.direct = merged, {}, True
                    self.views_done = not self.spec.views
                    return

    def _add(self, state: TableState, column: str, kind: str) -> None:
        self.dialect.add_column(state.qualified, column, kind)
        if state.stage is not None:
            self.dialect.add_column(state.stage, column, kind)
        state.columns[column] = kind
        log.info("table %s: column %s (%s) added", state.name, column, kind)

    # -- views ---------------------------------------------------------------------------------

    def _create_views(self, *, quiet: bool) -> None:
        if not self.spec.views:
            self.views_done = True
            return
        try:
            for name, select in self.spec.views.items():
                qview = self.dialect.qualified(self.schema, name)
                if self.dialect.name == "postgresql":
                    if self.schema:
                        self.dialect.execute(f"SET LOCAL search_path TO {q(self.schema)}")
                    self.dialect.execute(f"CREATE OR REPLACE VIEW {qview} AS {select}")
                else:
                    self.dialect.execute(f"DROP VIEW IF EXISTS {qview}")
                    self.dialect.execute(f"CREATE VIEW {qview} AS {select}")
            self.connection.commit()
            self.views_done = True
        except Exception as exc:
            self.connection.rollback()
            if not quiet:
                raise ConfigError(f"views: {redact.text(str(exc).strip().splitlines()[0])}") from None


def _rows(items: list[Item], state: TableState, columns: list[str]) -> list[tuple]:
    """Row tuples in ``columns`` order. With the add_column policy a renamed column's values go to
    its new column and the old column gets NULL for new rows."""
    fields: list[str | None] = list(columns)
    if state.renames:
        back = {new: old for old, new in state.renames.items()}
        fields = [back.get(c, None if c in state.renames else c) for c in columns]
    if None not in fields:
        get = itemgetter(*fields)
        try:
            if len(fields) == 1:
                return [(get(it.payload),) for it in items]
            return [get(it.payload) for it in items]
        except KeyError:
            pass  # some records lack a column: the path below fills in NULLs
    return [tuple(it.payload.get(f) if f is not None else None for f in fields) for it in items]


def _key_columns_of(sample: list[Item]) -> list[str]:
    """The columns whose values make up the records' own keys (``a`` or ``a|b``, as the db source
    builds them), when the same columns do so for every record of the sample; else none."""
    first = sample[0]
    parts = (first.source_key or "").split("|")
    payload = first.payload
    choice: list[str] = []
    for part in parts:
        column = next((c for c, v in payload.items() if v is not None and str(v) == part and c not in choice), None)
        if column is None:
            return []
        choice.append(column)
    for item in sample[1:]:
        if "|".join(str(item.payload.get(c)) for c in choice) != item.source_key:
            return []
    return choice


def _sis_key(table: str) -> list[str]:
    try:
        from runtime.sis.models import natural_key

        return list(natural_key(table))
    except (ImportError, KeyError):
        return []


def _is_unique_violation(exc: Exception) -> bool:
    return getattr(exc, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(exc)


def _is_connection_problem(exc: Exception) -> bool:
    """Connection lost, server shutting down, database locked: worth a retry, not a record's fault."""
    names = {c.__name__ for c in type(exc).__mro__}
    if not names & {"OperationalError", "InterfaceError"}:
        return False
    return "no such" not in str(exc).lower()
