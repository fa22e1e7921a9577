"""SIS objects and fields declared in a project's ``objects/*.yaml`` (runtime/models/objects.py).

``register(project_root)`` adds them to the store's models, so everything that knows the built-in
objects knows them too: the ``sis`` source and target, includes (``RELATIONS``), the outbox
triggers, ``koppel validate`` and ``koppel docs``. It is idempotent and cheap after the first call.

``apply(url, project_root)`` makes the database match, after the Alembic migrations of the
built-in schema: it creates a new object's table (with ``created_at``/``updated_at``, its key,
the references as foreign keys and the watermark index) and adds new fields as columns, through
Alembic's operations, then (re)installs the outbox triggers of every object it touched. What it
applied is recorded in ``sis_declared_fields``; a field that disappeared from the declarations or
changed type is refused with a message naming it, unless ``migrate=True`` (``koppel sis init
--migrate``) drops or alters it: data is never lost without being asked.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
)

from runtime.errors import ConfigError
from runtime.models.objects import DeclaredField, ObjectDeclaration

FOLDER = "objects"
TRACKING = "sis_declared_fields"
_lock = threading.Lock()
_registered: dict[Path, list[ObjectDeclaration]] = {}


def column_type(field: DeclaredField):  # noqa: ANN201
    if field.references:
        return String(64)  # as the built-in references by natural key
    return {"string": String(field.length), "text": Text(), "integer": Integer(), "number": Float(),
            "boolean": Boolean(), "date": Date(), "datetime": DateTime(timezone=True)}[field.type]


def read(project_root: Path) -> list[ObjectDeclaration]:
    """The declarations of a project, in file order; ConfigError naming the file when one is invalid
    (``koppel validate`` reports every problem with its line: runtime/objectcheck.py)."""
    from pydantic import ValidationError

    from runtime.yamlsource import YamlProblem, load_file

    out = []
    for path in sorted((Path(project_root) / FOLDER).glob("*.yaml")):
        display = f"{FOLDER}/{path.name}"
        try:
            out.append(ObjectDeclaration.model_validate(load_file(path, display).data))
        except (YamlProblem, ValidationError) as exc:
            raise ConfigError(f"{display}: invalid declaration, run koppel validate ({str(exc).splitlines()[0]})") from exc
    return out


def register(project_root: Path | None) -> list[ObjectDeclaration]:
    """Add the project's declared objects and fields to the SIS models (once per project)."""
    if project_root is None:
        return []
    root = Path(project_root).resolve()
    with _lock:
        if root in _registered:
            return _registered[root]
        declarations = read(root)
        from runtime.sis.models import OBJECTS

        for declaration in declarations:  # new objects first: an extension may reference one
            if declaration.name and declaration.name not in OBJECTS:
                _add_object(declaration)
        for declaration in declarations:
            if declaration.extends:
                _extend(declaration)
        for declaration in declarations:
            _relate(declaration)
        from runtime import redact

        redact.register_fields(personal=[name for d in declarations for name, f in d.fields.items() if f.personal])
        _registered[root] = declarations
        return declarations


def _add_object(declaration: ObjectDeclaration) -> None:
    from runtime.sis.models import OBJECTS, Base, utcnow

    columns = {}
    for name, field in declaration.fields.items():
        args = [ForeignKey(field.references, onupdate="CASCADE")] if field.references else []
        columns[name] = Column(name, column_type(field), *args, primary_key=name in declaration.key,
                               nullable=field.nullable and name not in declaration.key,
                               index=bool(field.references))
    namespace = {"__tablename__": declaration.name, "__doc__": declaration.description, "declared": True, **columns,
                 "created_at": Column(DateTime(timezone=True), server_default=utcnow()),
                 "updated_at": Column(DateTime(timezone=True), server_default=utcnow())}
    model = type(f"Declared_{declaration.name}", (Base,), namespace)
    OBJECTS[str(declaration.name)] = model
    table = table_of(str(declaration.name))
    Index(f"ix_{table.name}_watermark", table.c.updated_at, *table.primary_key.columns)


def table_of(object_type: str) -> Table:
    """The Core table of an object, built-in or declared (typed for the checks)."""
    from runtime.sis.models import OBJECTS

    return cast(Table, OBJECTS[object_type].__table__)


def _extend(declaration: ObjectDeclaration) -> None:
    from runtime.sis.models import OBJECTS

    if declaration.extends is None or declaration.extends not in OBJECTS:
        raise ConfigError(f"objects: extends unknown SIS object '{declaration.extends}'")
    table = table_of(declaration.extends)
    for name, field in declaration.fields.items():
        if name in table.c:
            if name in _declared_names(table):
                continue
            raise ConfigError(f"objects: '{declaration.extends}' has a field '{name}' already")
        args = [ForeignKey(field.references, onupdate="CASCADE")] if field.references else []
        table.append_column(Column(name, column_type(field), *args, nullable=True, info={"declared": True}))


def _declared_names(table: Table) -> set[str]:
    return {c.name for c in table.c if c.info.get("declared")}


def _relate(declaration: ObjectDeclaration) -> None:
    from runtime.sis.relations import RELATIONS, Relation

    for name, field in declaration.fields.items():
        if not field.references:
            continue
        target, remote = field.references.split(".", 1)
        RELATIONS.setdefault(declaration.object, {}).setdefault(target, Relation(target, (name,), (remote,), False))
        plural = declaration.plural or declaration.object
        RELATIONS.setdefault(target, {}).setdefault(plural, Relation(declaration.object, (remote,), (name,), True))


# --- the database ------------------------------------------------------------------------------


@dataclass
class Change:
    object: str
    field: str | None  # None: the whole table
    action: str  # create-table add-column drop-column alter-column

    def __str__(self) -> str:
        return f"{self.action} {self.object}" + (f".{self.field}" if self.field else "")


def apply(url: str, project_root: Path, *, migrate: bool = False) -> list[Change]:
    """Create or evolve the declared objects' tables at ``url``; returns what was changed."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    from runtime.sis import schema, triggers
    from runtime.sis.models import OBJECTS

    declarations = register(project_root)
    engine = schema.engine(url)
    changes: list[Change] = []
    try:
        with engine.begin() as connection:
            _tracking_table().create(connection, checkfirst=True)
            recorded = {(r.object, r.field): r.type for r in connection.execute(_tracking_table().select())}
            wanted = {(d.object, name): _type_name(f) for d in declarations for name, f in d.fields.items()}
            _refuse_or_plan_removals(recorded, wanted, migrate, changes)
            op = Operations(MigrationContext.configure(connection))
            existing = set(inspect(connection).get_table_names())
            for declaration in declarations:
                table = table_of(declaration.object)
                if declaration.name and declaration.name not in existing:
                    table.create(connection)
                    changes.append(Change(declaration.name, None, "create-table"))
                    continue
                present = {c["name"] for c in inspect(connection).get_columns(table.name)}
                for name, field in declaration.fields.items():
                    if name not in present:
                        op.add_column(table.name, Column(name, column_type(field), nullable=True))
                        changes.append(Change(declaration.object, name, "add-column"))
                    elif recorded.get((declaration.object, name), _type_name(field)) != _type_name(field):
                        with op.batch_alter_table(table.name) as batch:  # SQLite rebuilds the table
                            batch.alter_column(name, type_=column_type(field))
                        changes.append(Change(declaration.object, name, "alter-column"))
            for change in [c for c in changes if c.action in ("drop-column", "drop-table")]:
                if change.action == "drop-table":  # its triggers and their functions go with it
                    drop = triggers.sqlite_drop if connection.dialect.name == "sqlite" else triggers.postgresql_drop
                    for statement in drop(change.object):
                        connection.exec_driver_sql(statement)
                    op.drop_table(change.object)
                    continue
                with op.batch_alter_table(change.object) as batch:
                    batch.drop_column(str(change.field))
            touched = sorted({c.object for c in changes if c.object in OBJECTS})
            if touched:
                triggers.install(connection, touched)
            connection.execute(_tracking_table().delete())
            if wanted:
                connection.execute(_tracking_table().insert(), [{"object": o, "field": f, "type": t}
                                                                 for (o, f), t in sorted(wanted.items())])
    finally:
        engine.dispose()
    return changes


def _refuse_or_plan_removals(recorded: dict, wanted: dict, migrate: bool, changes: list[Change]) -> None:
    gone = sorted(k for k in recorded if k not in wanted)
    retyped = sorted(k for k in recorded if k in wanted and recorded[k] != wanted[k])
    if (gone or retyped) and not migrate:
        what = [f"{o}.{f} was removed from objects/" for o, f in gone]
        what += [f"{o}.{f} changed type from {recorded[(o, f)]} to {wanted[(o, f)]}" for o, f in retyped]
        raise ConfigError("refused: " + "; ".join(what) + ". Its data would be lost or converted: run "
                          "koppel sis init --migrate to drop or alter it, or restore the declaration")
    declared_objects = {o for o, _ in wanted}
    dropped_tables = sorted({o for o, _ in gone if o not in declared_objects and _is_declared_table(o, recorded)})
    changes.extend(Change(o, None, "drop-table") for o in dropped_tables)
    changes.extend(Change(o, f, "drop-column") for o, f in gone if o not in dropped_tables)


def _is_declared_table(object_type: str, recorded: dict) -> bool:
    """A whole object of the declarations (not fields added to a built-in one)."""
    from runtime.sis.models import OBJECTS

    return object_type not in OBJECTS and any(o == object_type for o, _ in recorded)


def _type_name(field: DeclaredField) -> str:
    if field.references:
        return "reference"
    return f"string({field.length})" if field.type == "string" else field.type


def _tracking_table() -> Table:
    return Table(TRACKING, MetaData(), Column("object", String(64), primary_key=True),
                 Column("field", String(64), primary_key=True), Column("type", String(32), nullable=False),
                 keep_existing=True)
