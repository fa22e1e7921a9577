"""The SIS store as a target: upserts (and updates, deletes, replaces) by natural key.

Each item's payload is a dict of column values of ``spec.object`` (names as in ``RECORDS.md``;
dates and timestamps as ISO strings or date objects). Operations:

- ``upsert``: insert, or update the row with the same key (``spec.key``, default the object's
  natural key; another unique column such as ``bsn`` works too). Only the fields present in the
  payload are written, so a partial record leaves the other columns as they are.
- ``update``: only an existing row; no row with that key is a RecordError.
- ``delete``: delete by key; an already absent row is fine (idempotent). An item whose
  ``operation`` is ``delete`` (an outbox delete passed through) is deleted whatever the spec says.
- ``replace``: upsert, then delete the rows within the same ``replace_scope`` value (e.g. the
  ``date`` of timetable activities) that this run (``open()`` .. ``close()``) has not written.
  It works per batch, counting every key the run wrote so far, so a scope split over two batches
  ends complete; in between, the second half may be deleted and written again.

Payloads may carry child records under a relation name and several rows under the object's
plural (``runtime.sis.children``). The store is ``KOPPEL_SIS_URL`` (``ctx.options["sis_url"]``
overrides it, for tests and benchmarks).

A batch is first written set-wise (one SELECT for the existing keys, then ``executemany``
UPDATE/INSERT/DELETE: ``runtime.sis.writes``). If the database refuses that, the batch is
rolled back and written again with every item in its own savepoint: a record that violates a
constraint (unknown reference, a bad code, a missing required field) becomes a RecordError
outcome and the rest of the batch still commits. A lost or refused connection raises
TransientError for the whole batch. No message carries a value: only field names and the
(masked) key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, insert, select, tuple_, update
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, StatementError

from runtime import redact
from runtime.errors import ConfigError, ContractError, RecordError, TransientError
from runtime.plugin import Item, Outcome, PluginContext, Target
from runtime.settings import sis_url
from runtime.sis import children, declared
from runtime.sis.models import OBJECTS, natural_key
from runtime.sis.records import table
from runtime.sis.values import convert, row_values
from runtime.sis.writes import NeedsOneByOne, Planned, write_set

from .spec import SisTarget


class SisStoreTarget(Target):
    def __init__(self, spec: SisTarget, ctx: PluginContext) -> None:
        declared.register(ctx.project_root)  # the project's own objects/*.yaml
        if spec.object not in OBJECTS:
            raise ConfigError(f"target.object: unknown SIS object '{spec.object}'")
        self.spec = spec
        self.ctx = ctx
        self.table = table(spec.object)
        self.key = list(spec.key) or list(natural_key(spec.object))
        for name in self.key + ([spec.replace_scope] if spec.replace_scope else []) + [c for key in spec.match_on for c in key]:
            if name not in self.table.c:
                raise ConfigError(f"target: '{name}' is not a field of SIS object '{spec.object}'")
        if spec.operation == "replace" and not spec.replace_scope:
            raise ConfigError("target.replace_scope: required with operation 'replace'")
        self.url = ctx.options.get("sis_url") or sis_url(ctx.project_root)
        self.engine = None
        self._written: dict[Any, set[tuple]] = {}  # replace: scope value → keys written this run
        self._upsert_on_conflict = self._key_is_unique()

    def open(self) -> None:
        from runtime.sis import schema

        self.engine = schema.engine(self.url)
        self._written = {}  # a run is open() .. close(): replace counts what this run wrote

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None

    def render(self, item: Item) -> str:
        import json

        return json.dumps(redact.data(item.payload), ensure_ascii=False, indent=2, default=str)

    # --- writing --------------------------------------------------------------------------

    def write(self, items: Sequence[Item]) -> list[Outcome]:
        if self.engine is None:
            self.open()
        try:
            try:
                with self.engine.begin() as connection:
                    outcomes = self._write_set(connection, items)
                    if self.spec.operation == "replace":
                        self._delete_unwritten(connection, items, outcomes)
                    return outcomes
            except (OperationalError, InterfaceError):
                raise
            except (NeedsOneByOne, IntegrityError, StatementError):
                pass  # some record breaks a rule: find it, one savepoint per record
            outcomes = []
            with self.engine.begin() as connection:
                for item in items:
                    outcomes.append(self._write_one(connection, item))
                if self.spec.operation == "replace":
                    self._delete_unwritten(connection, items, outcomes)
        except (OperationalError, InterfaceError) as exc:
            raise TransientError(f"SIS store unavailable: {type(exc.orig).__name__}") from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise TransientError("SIS store connection lost") from exc
            raise
        return outcomes

    def _write_set(self, connection, items: Sequence[Item]) -> list[Outcome]:  # noqa: ANN001
        """The whole batch in a few statements (``runtime.sis.writes``); raises on a broken rule."""
        if self.spec.match_on or any(children.has_lists(self.spec.object, item.payload) for item in items):
            raise NeedsOneByOne()  # parents with children, or matching: one savepoint per payload
        outcomes: list[Outcome | None] = [None] * len(items)
        planned: list[Planned] = []
        for index, item in enumerate(items):
            try:
                values = self._values(item.payload)
            except RecordError as exc:
                outcomes[index] = Outcome(error=exc)
                continue
            key = tuple(values.get(c) for c in self.key)
            if any(v is None for v in key):
                missing = next(c for c, v in zip(self.key, key) if v is None)
                outcomes[index] = Outcome(error=ContractError("key field missing", path=missing))
                continue
            operation = "delete" if item.operation == "delete" else self.spec.operation
            changes = {c: v for c, v in values.items() if c not in self.key}
            planned.append(Planned(index, operation, values, key, changes))
        if not self._upsert_on_conflict and any(p.operation in ("upsert", "replace") for p in planned):
            raise NeedsOneByOne()  # a non-unique key: insert-or-update needs a look per record
        absent = write_set(connection, self.table, self.key, planned)
        for p in planned:
            if p.index in absent:
                error = RecordError(f"no {self.spec.object} with this key", path=",".join(self.key))
                outcomes[p.index] = Outcome(error=error)
                continue
            if p.operation == "replace":
                self._written.setdefault(p.values.get(self.spec.replace_scope), set()).add(p.key)
            outcomes[p.index] = Outcome(reference=redact.text("|".join(str(v) for v in p.key)))
        return outcomes  # type: ignore[return-value]

    def _write_one(self, connection, item: Item) -> Outcome:  # noqa: ANN001
        operation = "delete" if item.operation == "delete" else self.spec.operation
        try:
            payload = item.payload
            plural = children.rows_field(self.spec.object)
            listed = isinstance(payload, dict) and isinstance(payload.get(plural), list)
            if listed:
                defaults = {k: v for k, v in payload.items() if k != plural}
                rows = [(f"{plural}[{i}].", {**defaults, **row} if isinstance(row, dict) else row)
                        for i, row in enumerate(payload[plural])]
            else:
                rows = [("", payload)]
            references = []
            with connection.begin_nested():
                if operation == "replace" and listed:
                    # a payload with its rows listed is the complete set of its scope by itself
                    self._written[self._scope_value(item)] = set()
                for path, row in rows:
                    references.append(self._write_record(connection, operation, row, path))
            return Outcome(reference=references[0] if len(references) == 1 else f"{len(references)} rows")
        except RecordError as exc:
            return Outcome(error=exc)
        except IntegrityError as exc:
            return Outcome(error=RecordError(_constraint_message(exc), code="constraint"))
        except (OperationalError, InterfaceError):
            raise
        except (StatementError, DBAPIError) as exc:
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                raise
            return Outcome(error=RecordError(f"rejected by the SIS store: {type(getattr(exc, 'orig', exc)).__name__}"))

    def _write_record(self, connection, operation: str, payload: Any, path: str) -> str:  # noqa: ANN001
        """One row of the target object (and its children, if the payload carries them)."""
        own, kids = children.split(self.spec.object, payload) if isinstance(payload, dict) else (payload, {})
        values = row_values(self.table, self.spec.object, own, self.engine.dialect.name, path)
        key = tuple(values.get(c) for c in self.key)
        if any(v is None for v in key):
            missing = next(c for c, v in zip(self.key, key) if v is None)
            raise ContractError("key field missing", path=f"{path}{missing}")
        if operation in ("upsert", "update") and self.spec.match_on:
            values, key, operation = self._match_existing(connection, values, key, operation)
        reference = self._apply(connection, operation, values, key)
        if kids and operation != "delete":
            values = self._with_own_reference(connection, values, key, kids)
            children.write_children(connection, values, kids, set(self.spec.replace_children))
        if operation == "replace":
            self._written.setdefault(values.get(self.spec.replace_scope), set()).add(key)
        return reference

    def _apply(self, connection, operation: str, values: dict, key: tuple) -> str:  # noqa: ANN001
        where = and_(*(self.table.c[c] == v for c, v in zip(self.key, key)))
        shown = redact.text("|".join(str(v) for v in key))
        if operation == "delete":
            connection.execute(delete(self.table).where(where))
            return shown
        changes = {c: v for c, v in values.items() if c not in self.key}
        if operation == "update":
            if not changes:
                return shown
            if connection.execute(update(self.table).where(where).values(changes)).rowcount == 0:
                raise RecordError(f"no {self.spec.object} with this key", path=",".join(self.key))
            return shown
        # Update first: a partial record (only the fields a system knows) must not need the
        # required columns an insert would. Insert only when no row has the key.
        if changes and connection.execute(update(self.table).where(where).values(changes)).rowcount:
            return shown
        if self._upsert_on_conflict:  # a concurrent writer may insert the same key meanwhile
            statement = self._dialect_insert().values(values)
            statement = (
                statement.on_conflict_do_update(index_elements=self.key, set_=changes)
                if changes
                else statement.on_conflict_do_nothing(index_elements=self.key)
            )
            connection.execute(statement)
        elif connection.execute(select(self.table.c[self.key[0]]).where(where)).first() is None:
            connection.execute(insert(self.table).values(values))
        return shown

    def _with_own_reference(self, connection, values: dict, key: tuple, kids: dict) -> dict:
        """The parent's own columns its children refer to (a person's ``person_number``) when the
        record named the parent by another unique field (``key: [bsn]``: Intergrip knows a student
        by BSN). Read from the row; no row is this record's error, also for an update without
        changes of its own."""
        wanted = [r.local[0] for r, _ in kids.values() if values.get(r.local[0]) is None]
        if not wanted:
            return values
        where = and_(*(self.table.c[c] == v for c, v in zip(self.key, key)))
        row = connection.execute(select(*(self.table.c[c] for c in wanted)).where(where)).mappings().first()
        if row is None:
            raise RecordError(f"no {self.spec.object} with this key", path=",".join(self.key))
        return {**values, **dict(row)}

    def _match_existing(self, connection, values: dict, key: tuple, operation: str) -> tuple[dict, tuple, str]:  # noqa: ANN001
        """``match_on``: when no row has the record's key but one has the same value of another
        unique field (an applicant's BSN, else onderwijsnummer), the record is that row: its key
        is the row's, and only the row's empty fields are filled (the SIS's own data about a
        person it knows wins over an application's). A match is written as an update."""
        has_key = and_(*(self.table.c[c] == v for c, v in zip(self.key, key)))
        if connection.execute(select(self.table.c[self.key[0]]).where(has_key)).first() is not None:
            return values, key, operation
        for columns in self.spec.match_on:
            probe = [values.get(c) for c in columns]
            if any(v is None for v in probe):
                continue
            same = and_(*(self.table.c[c] == v for c, v in zip(columns, probe)))
            row = connection.execute(select(self.table).where(same)).mappings().first()
            if row is not None:
                found = tuple(row[c] for c in self.key)
                kept = {c: v for c, v in values.items() if row[c] is None and v is not None}
                return {**kept, **dict(zip(self.key, found))}, found, "update"
        return values, key, operation

    def _delete_unwritten(self, connection, items: Sequence[Item], outcomes: list[Outcome]) -> None:  # noqa: ANN001
        scope = self.table.c[self.spec.replace_scope]
        keys = [self.table.c[c] for c in self.key]
        scopes = {self._scope_value(item) for item, outcome in zip(items, outcomes) if outcome.ok}
        for value in scopes:
            if value is None:
                continue
            kept = self._written.get(value, set())
            query = delete(self.table).where(scope == value)
            if kept:
                query = query.where(~tuple_(*keys).in_(sorted(kept, key=str)))
            connection.execute(query)

    def _scope_value(self, item: Item) -> Any:
        payload = item.payload
        if not isinstance(payload, dict) or payload.get(self.spec.replace_scope) is None:
            return None
        column = self.table.c[self.spec.replace_scope]
        try:
            return convert(column.type, payload[self.spec.replace_scope], column.name, self.engine.dialect.name)
        except RecordError:
            return None

    # --- values ---------------------------------------------------------------------------

    def _values(self, payload: Any) -> dict[str, Any]:
        return row_values(self.table, self.spec.object, payload, self.engine.dialect.name)

    def _key_is_unique(self) -> bool:
        if set(self.key) == set(natural_key(self.spec.object)):
            return True
        for constraint in self.table.constraints:
            columns = {c.name for c in getattr(constraint, "columns", [])}
            if type(constraint).__name__ == "UniqueConstraint" and columns == set(self.key):
                return True
        return len(self.key) == 1 and bool(self.table.c[self.key[0]].unique)

    def _dialect_insert(self):  # noqa: ANN202
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(self.table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(self.table)


def _constraint_message(exc: IntegrityError) -> str:
    """Which constraint failed, without the values (they may be personal data).

    PostgreSQL keeps values in the DETAIL part only, so the primary message is safe; SQLite's
    messages name the constraint or the columns, never values. Masked all the same."""
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    if diag is not None and getattr(diag, "message_primary", None):
        return redact.text(diag.message_primary)
    return redact.text(str(orig).splitlines()[0] if orig else "constraint violated")
