"""From a change of an included object back to the records that include it.

A sis source in outbox mode reading ``enrollment`` with ``include: [student.person, periods]``
must send an enrollment again when its student's person changes its address, or a period is
added: the record it would send now differs. ``RelatedChanges`` knows, for each include chain,
which object types matter and how to walk from their keys back up to the root's keys.

Walking up one relation ``parent.local = child.remote``: the child's ``remote`` values come from
its outbox key when ``remote`` is part of its natural key (so deletes map too), otherwise from
its current row (a deleted child of that kind cannot be traced; its parent is sent when it
changes itself). Then the parents with those ``local`` values are looked up.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.engine import Connection

from runtime.sis import records as rec
from runtime.sis.models import natural_key
from runtime.sis.relations import Relation, resolve

IN_CHUNK = 500


class RelatedChanges:
    def __init__(self, root: str, includes: Iterable[str]) -> None:
        self.root = root
        #: object type → the chains (relations from the root down to it) that include it
        self.paths: dict[str, list[list[tuple[str, Relation]]]] = {}
        seen: set[tuple[str, ...]] = set()
        for include in includes:
            chain = resolve(root, include)
            for depth in range(1, len(chain) + 1):
                prefix = chain[:depth]
                names = tuple(name for name, _ in prefix)
                if names in seen:
                    continue
                seen.add(names)
                self.paths.setdefault(prefix[-1][1].target, []).append(prefix)

    @property
    def objects(self) -> list[str]:
        return sorted(self.paths)

    def root_keys(self, connection: Connection, object_type: str, keys: list[str]) -> list[tuple]:
        """The natural keys (as tuples) of root rows that include one of these rows."""
        found: dict[tuple, None] = {}
        for chain in self.paths.get(object_type, []):
            values = self._remote_values(connection, object_type, chain[-1][1], keys)
            for depth in range(len(chain) - 1, -1, -1):
                relation = chain[depth][1]
                parent = chain[depth - 1][1].target if depth > 0 else self.root
                wanted = chain[depth - 1][1].remote[0] if depth > 0 else None
                values = self._parents(connection, parent, relation.local[0], values, wanted)
                if not values:
                    break
            for key in values:
                found[key] = None
        return list(found)

    def _remote_values(self, connection: Connection, object_type: str, relation: Relation, keys: list[str]) -> list:
        remote = relation.remote[0]
        key_columns = natural_key(object_type)
        if remote in key_columns:
            position = key_columns.index(remote)
            return sorted({rec.typed_key(object_type, k)[position] for k in keys}, key=str)
        rows = rec.fetch_by_keys(connection, object_type, [rec.typed_key(object_type, k) for k in keys])
        return sorted({r[remote] for r in rows.values() if r.get(remote) is not None}, key=str)

    def _parents(self, connection: Connection, parent: str, local: str, values: list, wanted: str | None) -> list:
        """Parent rows whose ``local`` is in ``values``: their ``wanted`` column, or (at the
        root, ``wanted`` None) their natural key tuples."""
        t = rec.table(parent)
        columns = [t.c[c] for c in natural_key(parent)] if wanted is None else [t.c[wanted]]
        result: dict = {}
        for start in range(0, len(values), IN_CHUNK):
            chunk = values[start : start + IN_CHUNK]
            for row in connection.execute(select(*columns).where(t.c[local].in_(chunk))):
                value = tuple(row) if wanted is None else row[0]
                if value is not None:
                    result[value] = None
        return list(result)
