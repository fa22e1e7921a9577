"""Set-based writes by natural key: one statement per kind of change, not three per record.

The sis target first tries a whole batch this way: one SELECT finds which keys exist, then
``executemany`` UPDATEs (grouped by the set of fields written), INSERTs and DELETEs. Only when
that meets a database error (a constraint a record breaks) does the target roll back and write
the batch record by record, each in its own savepoint, so that the one bad record fails alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.engine import Connection

IN_CHUNK = 500


@dataclass
class Planned:
    """One record ready to write: its index in the batch, operation, values and key."""

    index: int
    operation: str  # upsert | update | delete | replace
    values: dict[str, Any]
    key: tuple
    changes: dict[str, Any] = field(default_factory=dict)


class NeedsOneByOne(Exception):
    """The batch cannot be written set-wise (repeated keys); write it record by record."""


def existing_keys(connection: Connection, table: Table, key_columns: list[str], keys: list[tuple]) -> set[tuple]:
    columns = [table.c[c] for c in key_columns]
    found: set[tuple] = set()
    for start in range(0, len(keys), IN_CHUNK):
        chunk = keys[start : start + IN_CHUNK]
        condition = columns[0].in_([k[0] for k in chunk]) if len(columns) == 1 else tuple_(*columns).in_(chunk)
        found.update(tuple(row) for row in connection.execute(select(*columns).where(condition)))
    return found


def write_set(connection: Connection, table: Table, key_columns: list[str], planned: Sequence[Planned]) -> set[int]:
    """Write ``planned``; returns the indexes of ``update`` records whose key does not exist."""
    if len({p.key for p in planned}) != len(planned):
        raise NeedsOneByOne()
    where = and_(*(table.c[c] == bindparam(f"_key_{c}") for c in key_columns))

    def key_params(p: Planned) -> dict[str, Any]:
        return {f"_key_{c}": v for c, v in zip(key_columns, p.key)}

    deletes = [key_params(p) for p in planned if p.operation == "delete"]
    if deletes:
        connection.execute(delete(table).where(where), deletes)
    writes = [p for p in planned if p.operation != "delete"]
    present = existing_keys(connection, table, key_columns, [p.key for p in writes]) if writes else set()
    missing: set[int] = set()
    updates: dict[tuple[str, ...], list[dict]] = {}
    inserts: dict[tuple[str, ...], list[dict]] = {}
    for p in writes:
        if p.key in present:
            if p.changes:
                updates.setdefault(tuple(sorted(p.changes)), []).append({**p.changes, **key_params(p)})
        elif p.operation == "update":
            missing.add(p.index)
        else:
            inserts.setdefault(tuple(sorted(p.values)), []).append(p.values)
    for columns, rows in updates.items():
        statement = update(table).where(where).values({c: bindparam(c) for c in columns})
        connection.execute(statement, rows)
    for rows in inserts.values():
        connection.execute(insert(table), rows)
    return missing
