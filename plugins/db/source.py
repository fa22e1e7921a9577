"""``TableSource``: read tables or queries for replication, full, by watermark or by the outbox.

Modes (``DbSource.mode``):

- ``incremental``: the first run reads the whole table unsorted (no sort of a large table) and its
  last batch sets the cursor to the highest (watermark, key) seen before the read began; later runs read rows ordered by (watermark, key) past the cursor
  ``{"<table>": {"wm": <last watermark>, "key": [<last key>]}}``; the key breaks ties between rows
  with the same watermark, so none is skipped or read twice. Rows whose watermark is NULL are not
  read; deletes cannot be seen this way (use ``outbox`` or ``full``). A table without a
  ``watermark`` is read in full every run.
- ``full``: every row, every run, between a ``refresh-begin`` and a ``refresh-end`` record per
  table (each in a batch of its own); the db target applies the refresh atomically and deletes
  what was not in it. Other targets receive these two records too: use ``full`` with a db target.
- ``outbox``: the SIS store's change log (``outbox``: seq, object, key, op, changed_at). The first
  run takes the current outbox position, then copies every table in full (as in ``full``); later
  runs read outbox rows past the cursor ``{"outbox": <seq>}``, fetch the current row of each
  changed key and emit it, or a ``delete`` record when the row is gone. A table's ``name`` is the
  outbox ``object`` and its ``key`` columns are in the outbox key order (``|``-joined).

Rows are read with the driver's own cursor (no ORM, no per-row SQLAlchemy processing), one query
per table, fetched ``batch_size`` rows at a time: memory stays flat. SQLite has no
date types: values of columns declared DATE/DATETIME/TIMESTAMP stay the text SQLite holds; the
first non-NULL value of such a column in each batch carries its SQL type
(``plugins.db.schema.TimestampText``/``DateText``, str subclasses), which is all the db target
needs to create DATE and TIMESTAMPTZ columns (a date column takes ISO text). Text without an
offset is UTC at a PostgreSQL target (the SIS store writes UTC, the target session runs in UTC).

Bulk path (``read_rows``, see ``runtime.plugin``): the same batches, but the rows of a table read
(full, first load, incremental) travel as ``Rows`` (tuples in column order) instead of a Record and
a dict per row; the refresh markers stay records. The outbox's changes too: per outbox chunk, the
current rows of each table's changed keys as one ``Rows`` (one upsert at the target), then the
chunk's deletes as records, the last batch carrying the outbox position. A chunk holds each key
once (its last change), so its upserts and deletes touch different rows and their order is free.
A table with pseudonymised columns keeps the record form (its key columns may be renamed).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from runtime.errors import ConfigError, KoppelError, TransientError
from runtime.gcpause import paused_gc
from runtime.plugin import Batch, PluginContext, Record, Rows, Source

from plugins.db.dsn import Connection, connect, is_sqlite, resolve_dsn
from plugins.db.dsn import quote_identifier as q
from plugins.db.pseudonym import Pseudonymiser
from plugins.db.schema import DateText, TimestampText

REFRESH_BEGIN = "refresh-begin"
REFRESH_END = "refresh-end"

#: changed keys looked up per query (SQLite binds up to 32,766 values, PostgreSQL 65,535)
KEYS_PER_QUERY = 500


class TableSource(Source):
    def __init__(self, spec: Any, ctx: PluginContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.batch_size = max(1, int(ctx.options.get("batch_size") or 500))
        self.engine: Connection | None = None  # the connection and its dialect
        self.connection: Any = None  # its DBAPI connection
        self.sqlite = False
        self._last_raw: dict = {}
        self._bulk = False  # read_rows: table reads yield Rows instead of records
        self._pseudonymisers: dict[str, Pseudonymiser] = {}  # table → its keyed pseudonyms
        self._declared: dict[str, dict[str, str]] = {}  # SQLite: table → column → declared type, per read

    # -- lifecycle ----------------------------------------------------------------------------

    def open(self) -> None:
        if self.connection is not None:
            return
        self._pseudonymisers = {
            t.name: Pseudonymiser.from_context(self.ctx, t.pseudonymise) for t in self.spec.tables if t.pseudonymise
        }
        dsn = resolve_dsn(self.ctx)
        self.sqlite = is_sqlite(dsn)
        self.engine = connect(dsn, f"source {self.ctx.system_name or 'sis'}")
        self.connection = self.engine.raw

    def close(self) -> None:
        self.connection = None
        if self.engine is not None:
            self.engine.close()
            self.engine = None

    # -- reading -------------------------------------------------------------------------------

    def read(self, cursor: str | None) -> Iterator[Batch]:
        self.open()
        self._declared = {}
        try:
            yield from self._read(json.loads(cursor) if cursor else {})
        except KoppelError as exc:
            if isinstance(exc, TransientError):
                self.close()
            raise
        except Exception as exc:
            self.close()  # the connection may be broken: the next read opens a new one
            raise TransientError(f"source {self.ctx.system_name or 'sis'}: read failed ({type(exc).__name__})") from None

    def read_rows(self, cursor: str | None) -> Iterator[Batch]:
        """As ``read``, with the rows of table reads in tuple form (``Batch.rows``)."""
        self._bulk = True
        try:
            yield from self.read(cursor)
        finally:
            self._bulk = False

    def _read(self, state: dict) -> Iterator[Batch]:
        if self.spec.mode == "outbox":
            yield from self._read_outbox(state)
            return
        for table in self.spec.tables:
            if self.spec.mode == "full" or not table.watermark:
                yield from self._read_full(table, state)
            else:
                yield from self._read_incremental(table, state)

    def _read_full(self, table, state: dict, final_cursor: str | None = None) -> Iterator[Batch]:
        cursor_text = final_cursor if final_cursor is not None else (json.dumps(state) if state else None)
        # the markers travel in batches of their own, so no batch exceeds batch_size
        yield Batch([Record(key=f"{table.name}#{REFRESH_BEGIN}", data={}, object=table.name,
                            operation=REFRESH_BEGIN)], None)
        sql = f"SELECT * FROM {self._from(table)}"  # any order: the cursor only moves at the end
        for chunk in self._chunks(table, sql, ()):
            yield _batch(chunk, None)
        yield Batch([Record(key=f"{table.name}#{REFRESH_END}", data={}, object=table.name, operation=REFRESH_END)],
                    cursor_text)

    def _read_incremental(self, table, state: dict) -> Iterator[Batch]:
        wm, keys = table.watermark, table.key
        position = state.get(table.name)
        if not position:
            yield from self._first_load(table, state)
            return
        order = ", ".join(q(c) for c in [wm, *keys])
        where, params = f"{q(wm)} IS NOT NULL", ()
        if position.get("key") is None:  # after a first load: everything from its watermark on
            where += f" AND {q(wm)} >= {self._param()}"
            params = (position["wm"],)
        else:
            mark = self._param()
            key_cols = ", ".join(q(k) for k in keys)
            key_marks = ", ".join(mark for _ in keys)
            where += (f" AND ({q(wm)} > {mark} OR ({q(wm)} = {mark} AND ({key_cols}) > ({key_marks})))")
            params = (position["wm"], position["wm"], *position["key"])
        sql = f"SELECT * FROM {self._from(table)} WHERE {where} ORDER BY {order}"
        for chunk in self._chunks(table, sql, params):
            last = self._last_raw
            # ``state`` is shared by the tables of one read: a cursor holds every table's position
            state[table.name] = {"wm": _jsonable(last[wm]), "key": [_jsonable(last[k]) for k in keys]}
            yield _batch(chunk, json.dumps(state))

    def _first_load(self, table, state: dict) -> Iterator[Batch]:
        """The first incremental read: the whole table in storage order (no sort of a large table
        by its watermark), the cursor set only by the last batch: the highest (watermark, key)
        before the read began, beside the positions of the tables read before it. Rows changed during the read are read again next time; a crash
        during the first load starts it again (the upsert makes the repeat harmless)."""
        wm = table.watermark
        keys = ", ".join(q(k) for k in table.key)
        descending = ", ".join(f"{q(c)} DESC" for c in [wm, *table.key])
        # one pass (a top-1 sort): the highest (watermark, key) before the read begins
        top = self._row(f"SELECT {q(wm)}, {keys} FROM {self._from(table)} WHERE {q(wm)} IS NOT NULL "
                        f"ORDER BY {descending} LIMIT 1")
        if top is not None:
            state[table.name] = {"wm": _jsonable(top[0]), "key": [_jsonable(v) for v in top[1:]]}
        last: list[Record] | Rows | None = None
        sql = f"SELECT * FROM {self._from(table)} WHERE {q(wm)} IS NOT NULL"
        for chunk in self._chunks(table, sql, ()):
            if last is not None:
                yield _batch(last, None)
            last = chunk
        if last is not None:
            yield _batch(last, json.dumps(state) if state else None)

    def _read_outbox(self, state: dict) -> Iterator[Batch]:
        tables = {t.name: t for t in self.spec.tables}
        if "outbox" not in state:
            position = self._scalar("SELECT COALESCE(MAX(seq), 0) FROM outbox")
            for i, table in enumerate(self.spec.tables):
                last = i == len(self.spec.tables) - 1
                yield from self._read_full(table, {}, json.dumps({"outbox": position}) if last else None)
            return
        mark = self._param()
        names = ", ".join(mark for _ in tables)
        cursor = self.connection.cursor()
        cursor.execute(f"SELECT seq, object, {q('key')} FROM outbox WHERE seq > {mark} AND object IN ({names}) "
                       f"ORDER BY seq", (state["outbox"], *tables))
        while rows := cursor.fetchmany(self.batch_size):
            seqs, objects, keys = zip(*rows)
            position = json.dumps({"outbox": seqs[-1]})
            if self._bulk:
                yield from self._current_row_batches(tables, _keys_by_table(objects, keys), position)
            else:
                yield Batch(self._current_rows(tables, _last_changes(zip(objects, keys))), position)
        cursor.close()

    def _current_row_batches(self, tables: dict, by_table: dict[str, list[str]], position: str) -> Iterator[Batch]:
        """The bulk twin of ``_current_rows`` (see the module docstring)."""
        batches: list[Batch] = []
        records: list[Record] = []
        for name, keys in by_table.items():
            table = tables[name]
            if name in self._pseudonymisers:
                records += self._current_rows(tables, [(name, key) for key in keys])
                continue
            found: Rows | None = None
            for start in range(0, len(keys), KEYS_PER_QUERY):
                sql, params = self._keys_query(table, keys[start:start + KEYS_PER_QUERY])
                for part in self._row_batches(table, sql, params, size=len(keys) + 1):
                    if found is None:
                        found = part
                    else:
                        found.data += part.data
            missing = keys
            if found is not None and found.data:
                missing = _missing(found, keys)
                batches.append(Batch([], None, rows=found))
            records += [Record(key=key, data=dict(zip(table.key, key.split("|"))), object=name, operation="delete")
                        for key in self._absent(table, missing)]
        if records:
            batches.append(Batch(records, None))
        batches[-1].cursor = position
        yield from batches

    def _current_rows(self, tables: dict, changes: list[tuple[str, str]]) -> list[Record]:
        """The current row of each changed (table, key) as a record, in the order of ``changes``;
        a ``delete`` record for a key whose row is gone."""
        by_table: dict[str, list[str]] = {}
        for obj, key in changes:
            by_table.setdefault(obj, []).append(key)
        found: dict[tuple[str, str], Record] = {}
        absent: set[tuple[str, str]] = set()
        for name, keys in by_table.items():
            table = tables[name]
            for record in self._fetch_keys(table, keys):
                found[(name, record.key)] = record
            absent.update((name, key) for key in self._absent(table, [k for k in keys if (name, k) not in found]))
        records = []
        for obj, key in changes:
            if (obj, key) in found:
                records.append(found.pop((obj, key)))
            elif (obj, key) in absent:
                values = key.split("|")
                data = dict(zip(tables[obj].key, values))
                records.append(Record(key=key, data=data, object=obj, operation="delete"))
        # rows found under a key written otherwise in the outbox ('007' for 7): each once, as read
        return records + list(found.values())

    def _fetch_keys(self, table, keys: list[str]) -> list[Record]:
        records: list[Record] = []
        for start in range(0, len(keys), KEYS_PER_QUERY):
            chunk = keys[start:start + KEYS_PER_QUERY]
            sql, params = self._keys_query(table, chunk)
            for batch in self._batches(table, sql, params, size=len(chunk) + 1):
                records += batch
        return records

    def _absent(self, table, keys: list[str]) -> list[str]:
        """Of the outbox keys no fetched row carries as its own key text, those whose row is gone.
        A key written otherwise than the row's own value (``'007'`` or ``' 7'`` for the integer
        7) still finds its row, as the database compares it, and its row was fetched; a delete for
        it would remove that row at the target. Asked of the database key by key: few keys of a
        chunk go missing (the deleted rows)."""
        if not keys:
            return []
        mark = self._param()
        where = " AND ".join(f"{q(k)} = {mark}" for k in table.key)
        sql = f"SELECT 1 FROM {self._from(table)} WHERE {where} LIMIT 1"
        gone = []
        for key in keys:
            cursor = self._execute(table, sql, _split_key(key, len(table.key)))
            try:
                if cursor.fetchone() is None:
                    gone.append(key)
            finally:
                cursor.close()
        return gone

    def _keys_query(self, table, keys: list[str]) -> tuple[str, list]:
        """The current rows of up to ``KEYS_PER_QUERY`` keys (outbox text, ``|``-joined). The key
        values are bound as text and compared with each column as its type says: SQLite applies
        the column's affinity; PostgreSQL types each untyped parameter from its column, which a
        ``VALUES`` list would not (its columns become text: no ``integer = text``), so there a
        composite key is a list of row constructors, which SQLite does not take."""
        mark = self._param()
        width = len(table.key)
        cols = ", ".join(q(k) for k in table.key)
        if width == 1:
            return f"SELECT * FROM {self._from(table)} WHERE {cols} IN ({', '.join([mark] * len(keys))})", keys
        params = [v for key in keys for v in _split_key(key, width)]
        values = ", ".join(["(" + ", ".join([mark] * width) + ")"] * len(keys))
        if not self.sqlite:
            return f"SELECT * FROM {self._from(table)} WHERE ({cols}) IN ({values})", params
        return f"SELECT * FROM {self._from(table)} WHERE ({cols}) IN (VALUES {values})", params

    # -- helpers -------------------------------------------------------------------------------

    def _chunks(self, table, sql: str, params) -> Iterator[list[Record] | Rows]:
        return self._row_batches(table, sql, params) if self._bulk else self._batches(table, sql, params)

    def _row_batches(self, table, sql: str, params, *, size: int | None = None) -> Iterator[Rows]:
        """The bulk twin of ``_batches``: tuples as the driver returns them, no Record or dict."""
        cursor = self._execute(table, sql, params)
        columns = [d[0] for d in cursor.description]
        if any(k not in columns for k in table.key):
            cursor.close()
            raise ConfigError(f"table {table.name}: key column(s) {table.key} not among its columns")
        typed = [(columns.index(c), t) for c, t in self._typed_columns(table, columns)]
        try:
            while True:
                with paused_gc():  # the tuples are containers: no collection while they pile up
                    rows = cursor.fetchmany(size or self.batch_size)
                    if not rows:
                        break
                    self._last_raw = dict(zip(columns, rows[-1]))
                    for at, text_type in typed:  # the first value carries the type (see schema)
                        for n, row in enumerate(rows):
                            value = row[at]
                            if value is not None:
                                if value.__class__ is str:
                                    rows[n] = (*row[:at], text_type(value), *row[at + 1:])
                                break
                pseudonymiser = self._pseudonymisers.get(table.name)
                if pseudonymiser is not None:
                    yield Rows(table.name, pseudonymiser.rename(columns), list(table.key),
                               pseudonymiser.rows(columns, rows))
                else:
                    yield Rows(table.name, columns, list(table.key), rows)
        finally:
            cursor.close()

    def _execute(self, table, sql: str, params):
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, tuple(params))
        except Exception as exc:
            cursor.close()
            error = self._query_error(exc, table)
            if not isinstance(error, ConfigError):
                raise
            raise error from None
        return cursor

    def _batches(self, table, sql: str, params, *, size: int | None = None) -> Iterator[list[Record]]:
        cursor = self._execute(table, sql, params)
        columns = [d[0] for d in cursor.description]
        typed = self._typed_columns(table, columns)
        key_index = [columns.index(k) for k in table.key if k in columns]
        if len(key_index) != len(table.key):
            cursor.close()
            raise ConfigError(f"table {table.name}: key column(s) {table.key} not among its columns")
        name = table.name
        size = size or self.batch_size
        single = key_index[0] if len(key_index) == 1 else None
        try:
            while True:
                with paused_gc():
                    rows = cursor.fetchmany(size)
                    if not rows:
                        break
                    self._last_raw = dict(zip(columns, rows[-1]))  # the cursor keeps stored values
                    if single is not None:
                        records = [Record(str(row[single]), dict(zip(columns, row)), name) for row in rows]
                    else:
                        records = [Record("|".join(str(row[i]) for i in key_index), dict(zip(columns, row)), name)
                                   for row in rows]
                    for column, text_type in typed:  # the first value carries the type (see schema)
                        for record in records:
                            value = record.data[column]
                            if value is not None:
                                if value.__class__ is str:
                                    record.data[column] = text_type(value)
                                break
                    pseudonymiser = self._pseudonymisers.get(name)
                    if pseudonymiser is not None:
                        for record in records:
                            pseudonymiser.record(record.data)
                yield records
        finally:
            cursor.close()

    def _typed_columns(self, table, columns: list[str]) -> list[tuple[str, type]]:
        """SQLite only: DATE/DATETIME columns, whose text values get their SQL type attached."""
        if not self.sqlite or table.query:
            return []
        declared = self._declared.get(table.name)
        if declared is None:  # once per table and read: the outbox's changes query a table per 500 keys
            cursor = self.connection.cursor()
            cursor.execute(f"PRAGMA table_info({q(table.name)})")
            declared = self._declared[table.name] = {row[1]: (row[2] or "").upper() for row in cursor.fetchall()}
            cursor.close()
        result = []
        for column in columns:
            kind = declared.get(column, "")
            if "DATETIME" in kind or "TIMESTAMP" in kind:
                result.append((column, TimestampText))
            elif kind.startswith("DATE"):
                result.append((column, DateText))
        return result

    def _from(self, table) -> str:
        if table.query:
            return f"({table.query}) AS {q(table.name)}"
        if table.columns:  # a projection: what the replica may hold, nothing more
            return f"(SELECT {', '.join(q(c) for c in table.columns)} FROM {q(table.name)}) AS {q(table.name)}"
        return q(table.name)

    def _param(self) -> str:
        return "?" if self.sqlite else "%s"

    def _scalar(self, sql: str, params: tuple = ()) -> Any:
        return self._row(sql, params)[0]

    def _row(self, sql: str, params: tuple = ()) -> tuple:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, params)
            return cursor.fetchone()
        except Exception as exc:
            raise self._query_error(exc, sql.split(" FROM ")[-1].split()[0]) from None
        finally:
            cursor.close()

    def _query_error(self, exc: Exception, table) -> KoppelError:
        name = getattr(table, "name", table)
        from runtime import redact
        from runtime.errors import TransientError

        text = redact.text(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        if any(w in text.lower() for w in ("no such", "does not exist", "syntax", "undefined")):
            return ConfigError(f"table {name}: {text}")
        return TransientError(f"table {name}: {text}")


def _split_key(key: str, width: int) -> list[str]:
    parts = key.split("|")
    if len(parts) != width:
        return [key] + [None] * (width - 1) if width > 1 else [key]
    return parts


def _last_changes(changes) -> list:
    """Each change once, at the place of its last occurrence (the outbox order of last changes)."""
    last = list(dict.fromkeys(reversed(list(changes))))
    last.reverse()
    return last


def _keys_by_table(objects: tuple[str, ...], keys: tuple[str, ...]) -> dict[str, list[str]]:
    """The changed keys of each table, as ``_last_changes`` orders them (an outbox chunk is mostly
    one table: no loop per change then)."""
    if len(set(objects)) == 1:
        return {objects[0]: _last_changes(keys)}
    by_table: dict[str, list[str]] = {}
    for obj, key in _last_changes(zip(objects, keys)):
        by_table.setdefault(obj, []).append(key)
    return by_table


def _missing(found: Rows, keys: list[str]) -> list[str]:
    """The keys (outbox text) that no row of ``found`` has: their rows are gone."""
    at = [found.columns.index(k) for k in found.keys]
    if len(at) == 1:
        present = set(map(str, map(itemgetter(at[0]), found.data)))
    else:
        present = {"|".join(map(str, values)) for values in map(itemgetter(*at), found.data)}
    if present.issuperset(keys):
        return []
    return [key for key in keys if key not in present]


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return value


def _batch(chunk: list[Record] | Rows, cursor: str | None) -> Batch:
    return Batch([], cursor, rows=chunk) if isinstance(chunk, Rows) else Batch(chunk, cursor)
