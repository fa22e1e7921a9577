"""SIS rows as records: plain JSON-able dicts, with related objects joined in (``include``).

Dates become ``YYYY-MM-DD``, timestamps ISO 8601 in UTC, booleans ``true``/``false``. Related
objects are fetched per batch with one ``IN`` query per relation, never per record, so a batch of
500 students with ``include: [person, enrollments.program]`` costs four queries.

The record shapes are documented in ``RECORDS.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Boolean, Date, DateTime, Table, select, tuple_
from sqlalchemy.engine import Connection

from runtime.sis.models import OBJECTS, natural_key
from runtime.sis.relations import Relation, resolve

IN_CHUNK = 500
KEY_SEPARATOR = "|"


def table(object_type: str) -> Table:
    return cast(Table, OBJECTS[object_type].__table__)


def jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # SQLite keeps naive UTC
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def to_record(row: Any) -> dict[str, Any]:
    return {name: jsonable(value) for name, value in row._mapping.items()}


def _sqlite_timestamp(value: str) -> str:
    # stored as "YYYY-MM-DD HH:MM:SS.ffffff" in UTC: only the separator and the offset differ
    return value.replace(" ", "T", 1) + "+00:00" if "+" not in value else value.replace(" ", "T", 1)


def _utc_iso(value: dt.datetime) -> str:
    return jsonable(value)


class RowReader:
    """Selects a table's rows and turns them into records at a few hundred thousand per second.

    On SQLite the values are taken as stored (dates and timestamps are already ISO text) instead
    of being parsed into Python objects and formatted back; on PostgreSQL the driver's date and
    datetime objects are formatted once."""

    def __init__(self, object_type: str, dialect: str) -> None:
        from sqlalchemy import String, type_coerce

        t = table(object_type)
        self.names = [c.name for c in t.columns]
        sqlite = dialect == "sqlite"
        columns: list[Any] = []
        converters: list[Callable[[Any], str] | None] = []
        for c in t.columns:
            if isinstance(c.type, (Date, DateTime)) and sqlite:
                columns.append(type_coerce(c, String).label(c.name))
                converters.append(_sqlite_timestamp if isinstance(c.type, DateTime) else None)
            elif isinstance(c.type, Boolean) and sqlite:
                columns.append(c)  # SQLAlchemy turns 0/1 into bool cheaply
                converters.append(None)
            elif isinstance(c.type, DateTime):
                columns.append(c)
                converters.append(_utc_iso)
            elif isinstance(c.type, Date):
                columns.append(c)
                converters.append(dt.date.isoformat)
            else:
                columns.append(c)
                converters.append(None)
        self.columns = columns
        self._convert = [(i, f) for i, f in enumerate(converters) if f is not None]

    def select(self):  # noqa: ANN201
        return select(*self.columns)

    def record(self, row: Any) -> dict[str, Any]:
        values = list(row)
        for i, convert in self._convert:
            if values[i] is not None:
                values[i] = convert(values[i])
        return dict(zip(self.names, values))


_readers: dict[tuple[str, str], RowReader] = {}


def row_reader(object_type: str, dialect: str) -> RowReader:
    key = (object_type, dialect)
    if key not in _readers:
        _readers[key] = RowReader(object_type, dialect)
    return _readers[key]


def key_string(object_type: str, data: dict[str, Any]) -> str:
    """The natural key as one string (``|`` between parts), as in the outbox ``key``."""
    return KEY_SEPARATOR.join(str(data[c]) for c in natural_key(object_type))


def split_key(object_type: str, key: str) -> dict[str, str]:
    """An outbox key back into its fields (values as text)."""
    columns = natural_key(object_type)
    parts = key.split(KEY_SEPARATOR, len(columns) - 1)
    return dict(zip(columns, parts))


def typed_key(object_type: str, key: str) -> tuple:
    """An outbox key as the column values, converted to the columns' Python types."""
    t = table(object_type)
    return tuple(
        int(v) if t.c[c].type.python_type is int else v for c, v in split_key(object_type, key).items()
    )


def include_tree(object_type: str, includes: Iterable[str]) -> dict:
    """``["enrollments.program", "person"]`` → ``{"enrollments": {"program": {}}, "person": {}}``;
    raises KeyError for an unknown relation."""
    tree: dict = {}
    for include in includes:
        resolve(object_type, include)  # validates the whole chain
        node = tree
        for name in include.split("."):
            node = node.setdefault(name, {})
    return tree


def fetch_by_keys(connection: Connection, object_type: str, keys: Sequence[tuple]) -> dict[tuple, dict]:
    """Current rows by natural key: ``{key tuple: record}`` (missing keys are absent)."""
    t = table(object_type)
    columns = [t.c[c] for c in natural_key(object_type)]
    reader = row_reader(object_type, connection.dialect.name)
    found: dict[tuple, dict] = {}
    for start in range(0, len(keys), IN_CHUNK):
        chunk = list(keys[start : start + IN_CHUNK])
        condition = columns[0].in_([k[0] for k in chunk]) if len(columns) == 1 else tuple_(*columns).in_(chunk)
        for row in connection.execute(reader.select().where(condition)):
            record = reader.record(row)
            found[tuple(record[c.name] for c in columns)] = record
    return found


def attach(connection: Connection, object_type: str, records: list[dict], tree: dict) -> None:
    """Join the related objects named in ``tree`` into ``records`` (in place)."""
    from runtime.sis.relations import RELATIONS

    for name, subtree in tree.items():
        relation: Relation = RELATIONS[object_type][name]
        related = _related(connection, relation, records)
        children: list[dict] = []
        for record in records:
            value = record.get(relation.local[0])
            matches = related.get(value, []) if value is not None else []
            if relation.many:
                record[name] = matches
                children.extend(matches)
            else:
                record[name] = matches[0] if matches else None
                if matches:
                    children.append(matches[0])
        if subtree and children:
            # one dict may be shared by several parents (two students, one program): attach once
            unique = list({id(c): c for c in children}.values())
            attach(connection, relation.target, unique, subtree)


def _related(connection: Connection, relation: Relation, records: list[dict]) -> dict[Any, list[dict]]:
    t = table(relation.target)
    remote = t.c[relation.remote[0]]
    values = sorted({r[relation.local[0]] for r in records if r.get(relation.local[0]) is not None}, key=str)
    order = [t.c[c] for c in natural_key(relation.target)]
    reader = row_reader(relation.target, connection.dialect.name)
    grouped: dict[Any, list[dict]] = {}
    for start in range(0, len(values), IN_CHUNK):
        chunk = values[start : start + IN_CHUNK]
        for row in connection.execute(reader.select().where(remote.in_(chunk)).order_by(*order)):
            record = reader.record(row)
            grouped.setdefault(record[remote.name], []).append(record)
    return grouped
