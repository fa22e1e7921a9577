"""SIS rows as records: plain JSON-able dicts, with related objects joined in (``include``).

Dates become ``YYYY-MM-DD``, timestamps ISO 8601 in UTC, booleans ``true``/``false``. Related
objects are fetched per batch with one ``IN`` query per relation, never per record, so a batch of
500 students with ``include: [person, enrollments.program]`` costs four queries.

The record shapes are documented in ``RECORDS.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, select, tuple_
from sqlalchemy.engine import Connection

from runtime.sis.models import OBJECTS, natural_key
from runtime.sis.relations import Relation, resolve

IN_CHUNK = 500
KEY_SEPARATOR = "|"


def table(object_type: str) -> Table:
    return OBJECTS[object_type].__table__


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
    found: dict[tuple, dict] = {}
    for start in range(0, len(keys), IN_CHUNK):
        chunk = list(keys[start : start + IN_CHUNK])
        condition = columns[0].in_([k[0] for k in chunk]) if len(columns) == 1 else tuple_(*columns).in_(chunk)
        for row in connection.execute(select(t).where(condition)):
            record = to_record(row)
            found[tuple(row._mapping[c.name] for c in columns)] = record
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
    grouped: dict[Any, list[dict]] = {}
    for start in range(0, len(values), IN_CHUNK):
        chunk = values[start : start + IN_CHUNK]
        for row in connection.execute(select(t).where(remote.in_(chunk)).order_by(*order)):
            grouped.setdefault(row._mapping[remote.name], []).append(to_record(row))
    return grouped
