"""Writing a record together with its children, the mirror image of ``include``.

A payload for a sis target may carry, under the name of one of the object's *many* relations
(``RECORDS.md``), a list of child records: a company with its ``recognitions``, an application
with its ``documents``. Each child is upserted by its natural key into the related table, with
the reference to the parent (the relation's column, e.g. ``sbb_code``) filled in from the parent
when the child does not carry it. With the relation's name in the target's ``replace_children``
the list is the complete set: the parent's other children are deleted (a withdrawn erkenning
disappears). Without it, children are only added or updated, never deleted (an application's
documents from Intergrip leave the SIS's own onderwijsovereenkomst alone).

A payload may also carry several records of the target object itself under its plural name
(``role_assignments`` on ``role_assignment``): the scalar fields beside the list are defaults
for every row. With ``operation: replace`` the payload's own ``replace_scope`` value names the
scope, so an empty list empties it (a SCIM group without members leaves its role unassigned).

Everything of one payload runs in the caller's savepoint: one bad child fails the whole payload.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, tuple_, update
from sqlalchemy.engine import Connection

from runtime.errors import ContractError
from runtime.sis.models import natural_key
from runtime.sis.records import table
from runtime.sis.relations import RELATIONS, Relation
from runtime.sis.values import row_values


def rows_field(object_type: str) -> str:
    """The plural under which a payload may carry several rows of the object itself."""
    return f"{object_type}s"


def has_lists(object_type: str, payload: Any) -> bool:
    if not isinstance(payload, dict):
        return False
    names = {rows_field(object_type)} | {n for n, r in RELATIONS.get(object_type, {}).items() if r.many}
    return any(isinstance(payload.get(name), list) for name in names)


def split(object_type: str, payload: dict) -> tuple[dict, dict[str, tuple[Relation, list]]]:
    """``payload`` → (its own fields, {relation name: (relation, child records)})."""
    own: dict = {}
    children: dict[str, tuple[Relation, list]] = {}
    relations = RELATIONS.get(object_type, {})
    for name, value in payload.items():
        relation = relations.get(name)
        if relation is not None and relation.many and isinstance(value, list):
            children[name] = (relation, value)
        else:
            own[name] = value
    return own, children


def write_children(
    connection: Connection,
    parent_values: dict,
    children: dict[str, tuple[Relation, list]],
    replace: set[str],
) -> None:
    dialect = connection.dialect.name
    for name, (relation, records) in children.items():
        local, remote = relation.local[0], relation.remote[0]
        parent_value = parent_values.get(local)
        if parent_value is None:
            raise ContractError("needed to attach the children", path=local)
        child_table = table(relation.target)
        keys_of = natural_key(relation.target)
        written: list[tuple] = []
        for index, record in enumerate(records):
            path = f"{name}[{index}]."
            values = row_values(child_table, relation.target, record, dialect, path)
            values.setdefault(remote, parent_value)
            if values[remote] != parent_value:
                raise ContractError("belongs to another parent", path=f"{path}{remote}")
            missing = [c for c in keys_of if values.get(c) is None]
            if missing:
                raise ContractError("key field missing", path=f"{path}{missing[0]}")
            key = tuple(values[c] for c in keys_of)
            upsert(connection, relation.target, values, key)
            written.append(key)
        if name in replace:
            query = delete(child_table).where(child_table.c[remote] == parent_value)
            if written:
                query = query.where(~tuple_(*(child_table.c[c] for c in keys_of)).in_(written))
            connection.execute(query)


def upsert(connection: Connection, object_type: str, values: dict, key: tuple) -> None:
    """Update the row with this natural key, or insert it (a concurrent insert is absorbed)."""
    t = table(object_type)
    keys_of = natural_key(object_type)
    changes = {c: v for c, v in values.items() if c not in keys_of}
    where = and_(*(t.c[c] == v for c, v in zip(keys_of, key)))
    if changes and connection.execute(update(t).where(where).values(changes)).rowcount:
        return
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    statement = dialect_insert(t).values(values)
    statement = (
        statement.on_conflict_do_update(index_elements=list(keys_of), set_=changes)
        if changes
        else statement.on_conflict_do_nothing(index_elements=list(keys_of))
    )
    connection.execute(statement)
