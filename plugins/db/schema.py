"""The target table's shape: created from the records, evolved as they change.

Column types are inferred from the values (the first non-null value of a column in a batch):
bool → BOOLEAN, int → BIGINT, float → DOUBLE PRECISION, Decimal → NUMERIC, aware datetime →
TIMESTAMPTZ, naive datetime → TIMESTAMP, date → DATE, str → TEXT, bytes → BYTEA, dict/list →
JSONB (SQLite: the nearest declared types). Inferring from values rather than from the source's
catalog lets the db target take records from any source, mapped or not.

Evolution: a column that appears is added (``ALTER TABLE ... ADD COLUMN``); a column that
disappears is left alone (its value stays NULL for new rows). A value that the existing column
cannot hold (text arriving in a BIGINT column) is an incompatible change, handled as declared by
``on_incompatible_change``:

- ``fail`` (default): ConfigError naming table, column and both types; the run stops.
- ``add_column``: the old column is kept as it is and the values go to ``<column>_<type>`` from now
  on (e.g. ``amount_text``), so readers of the old column are not broken.
- ``recreate``: the table is dropped (on PostgreSQL with its dependent views, which the target
  re-creates) and created with the new types. Rows copied before are gone: run a full refresh.

Widening is not a change: a TEXT column takes any value, NUMERIC and DOUBLE take integers, a
TIMESTAMPTZ column takes naive datetimes, and date and time columns take text (ISO dates are how
JSON, CSV and SQLite carry them; a value the database cannot read fails as that record's error).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from runtime.errors import ConfigError

POSTGRES_TYPES = {
    "bool": "BOOLEAN", "int": "BIGINT", "float": "DOUBLE PRECISION", "numeric": "NUMERIC",
    "timestamptz": "TIMESTAMP WITH TIME ZONE", "timestamp": "TIMESTAMP WITHOUT TIME ZONE", "date": "DATE",
    "time": "TIME", "text": "TEXT", "bytes": "BYTEA", "json": "JSONB",
}
SQLITE_TYPES = {
    "bool": "BOOLEAN", "int": "INTEGER", "float": "REAL", "numeric": "NUMERIC", "timestamptz": "DATETIME",
    "timestamp": "DATETIME", "date": "DATE", "time": "TIME", "text": "TEXT", "bytes": "BLOB", "json": "JSON",
}
#: existing kind → kinds it can take without a change
WIDENS = {
    "text": set(POSTGRES_TYPES),
    "numeric": {"int", "float"},
    "float": {"int", "numeric"},
    # ISO text (JSON, CSV, SQLite) is how dates travel; the database checks each value
    "timestamptz": {"timestamp", "text"},
    "timestamp": {"timestamptz", "text"},
    "date": {"text"},
    "time": {"text"},
    "json": {"json"},
    "bool": {"int"},  # SQLite keeps booleans as 0/1; PostgreSQL reads '0'/'1' as false/true
}


class TypedText(str):
    """Text that knows the SQL type it came from: a SQLite DATETIME or DATE value stays the text
    it is (cheap, exact, and any target can print it) while the db target still creates a
    TIMESTAMPTZ or DATE column for it."""

    __slots__ = ()  # no __dict__: the values stay out of the cyclic garbage collector's way
    sql_kind = "text"


class TimestampText(TypedText):
    __slots__ = ()
    sql_kind = "timestamptz"


class DateText(TypedText):
    __slots__ = ()
    sql_kind = "date"


def kind_of(value: Any) -> str:
    kind = getattr(value, "sql_kind", None)
    if kind is not None:
        return kind
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, Decimal):
        return "numeric"
    if isinstance(value, dt.datetime):
        return "timestamptz" if value.tzinfo else "timestamp"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(value, (dict, list)):
        return "json"
    return "text"


def infer(rows: list[dict]) -> dict[str, str]:
    """column → kind, in first-seen column order; a column with only NULLs is ``UNKNOWN``."""
    kinds: dict[str, str | None] = {}
    for row in rows:
        for column, value in row.items():
            if kinds.get(column) is None:
                kinds[column] = None if value is None else kind_of(value)
        if None not in kinds.values():
            break  # every column typed: no need to look at the rest of the batch
    # columns that only some later rows have (rows of another width; checked cheaply by length)
    width = len(kinds)
    for row in rows:
        if len(row) != width:
            for column in row:
                kinds.setdefault(column, None)
    return {c: (k or UNKNOWN) for c, k in kinds.items()}


def infer_columns(columns: list[str], rows: list[tuple]) -> dict[str, str]:
    """``infer`` for rows in tuple form (the bulk path): the first non-null value of each column."""
    kinds: dict[str, str] = {}
    for at, column in enumerate(columns):
        kinds[column] = UNKNOWN
        for row in rows:
            value = row[at]
            if value is not None:
                kinds[column] = kind_of(value)
                break
    return kinds


#: a column that had only NULLs in the batch: fits any existing column, created as TEXT
UNKNOWN = "unknown"


def kind_from_declared(declared: str) -> str:
    """A column type as the database reports it → our kind (unknown types count as text)."""
    t = declared.lower()
    if t.startswith("bool"):
        return "bool"
    if t in ("bigint", "integer", "smallint", "int", "int8", "int4") or t.startswith("int"):
        return "int"
    if t in ("double precision", "real", "float", "double") or t.startswith("float"):
        return "float"
    if t.startswith(("numeric", "decimal")):
        return "numeric"
    if "with time zone" in t and t.startswith("timestamp"):
        return "timestamptz"
    if t.startswith(("timestamp", "datetime")):
        return "timestamp" if "without" in t else "timestamptz"
    if t == "date":
        return "date"
    if t.startswith("time"):
        return "time"
    if t in ("bytea", "blob"):
        return "bytes"
    if t in ("jsonb", "json"):
        return "json"
    return "text"


def compatible(existing: str, new: str) -> bool:
    return existing == new or new == UNKNOWN or new in WIDENS.get(existing, set())


def concrete(kind: str) -> str:
    return "text" if kind == UNKNOWN else kind


def incompatible_error(table: str, column: str, existing: str, new: str) -> ConfigError:
    return ConfigError(
        f"table {table}: column {column} is {existing} at the target but {new} values arrive; "
        f"set on_incompatible_change (fail, add_column or recreate) to decide"
    )
