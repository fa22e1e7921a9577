"""The outbox triggers: every insert, update and delete of an object row, by any client, becomes
an ``outbox`` row (seq, object, key, op, changed_at). Installed by the migrations.

SQLite: three row triggers per table. The update trigger also stamps ``updated_at`` (unless the
statement set it itself); ``recursive_triggers`` is off by default, so that inner UPDATE does
not fire the trigger again.

PostgreSQL: statement-level triggers with transition tables, so a bulk insert or a COPY writes
its outbox rows with one INSERT ... SELECT per statement instead of one function call per row,
and sends one ``pg_notify('koppel_outbox', <object>)`` per statement (PostgreSQL folds equal
notifications of one transaction into one). A BEFORE UPDATE row trigger stamps ``updated_at``.

An update that changes nothing (every column equal) writes no outbox row on either engine, so a
repeated upsert of the same data does not wake realtime interfaces. An update that changes the
natural key writes a delete of the old key before the update of the new one.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.engine import Connection

from runtime.sis.models import OBJECTS, natural_key

CHANNEL = "koppel_outbox"
STAMPS = ("created_at", "updated_at")
_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"


def _quote(name: str) -> str:
    return f'"{name}"'


def _key_expr(alias: str, columns: Iterable[str]) -> str:
    parts = [f"CAST({alias}.{_quote(c)} AS TEXT)" for c in columns]
    return " || '|' || ".join(parts)


def _data_columns(object_type: str, existing: list[str] | None = None) -> list[str]:
    names = existing if existing is not None else [c.name for c in OBJECTS[object_type].__table__.columns]
    return [name for name in names if name not in STAMPS]


# --- SQLite -------------------------------------------------------------------------------


def sqlite_ddl(object_type: str, columns: list[str] | None = None) -> list[str]:
    """``columns``: the table's columns as they are in the database (a migration may run while
    the models already describe a later schema); default the model's."""
    table = _quote(object_type)
    key_new, key_old = _key_expr("NEW", natural_key(object_type)), _key_expr("OLD", natural_key(object_type))
    changed = " OR ".join(f"OLD.{_quote(c)} IS NOT NEW.{_quote(c)}" for c in _data_columns(object_type, columns))
    name = f"outbox_{object_type}"

    def outbox(op: str, key: str, when: str = _SQLITE_NOW) -> str:
        return f"INSERT INTO outbox (object, key, op, changed_at) VALUES ('{object_type}', {key}, '{op}', {when});"

    # An insert's time is the row's own stamp: saves a strftime() per row in bulk loads.
    inserted = f"COALESCE(NEW.updated_at, {_SQLITE_NOW})"
    return [
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} BEGIN {outbox('insert', key_new, inserted)} END",
        f"CREATE TRIGGER {name}_update AFTER UPDATE ON {table} WHEN {changed} BEGIN "
        f"UPDATE {table} SET updated_at = {_SQLITE_NOW} "
        f"WHERE rowid = NEW.rowid AND NEW.updated_at IS OLD.updated_at; "
        f"INSERT INTO outbox (object, key, op, changed_at) SELECT '{object_type}', {key_old}, 'delete', "
        f"{_SQLITE_NOW} WHERE {key_old} IS NOT {key_new}; "
        f"{outbox('update', key_new)} END",
        f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} BEGIN {outbox('delete', key_old)} END",
    ]


def sqlite_drop(object_type: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS outbox_{object_type}_{op}" for op in ("insert", "update", "delete")]


# --- PostgreSQL ---------------------------------------------------------------------------


def postgresql_ddl(object_type: str) -> list[str]:
    table = _quote(object_type)
    keys = natural_key(object_type)
    name = f"outbox_{object_type}"
    notify = f"PERFORM pg_notify('{CHANNEL}', '{object_type}');"

    def function(op: str, body: str) -> str:
        return (
            f"CREATE OR REPLACE FUNCTION {name}_{op}() RETURNS trigger LANGUAGE plpgsql AS $fn$\n"
            f"BEGIN\n{body}\nIF FOUND THEN {notify} END IF;\nRETURN NULL;\nEND\n$fn$"
        )

    def insert_from(op: str, alias: str, source: str, where: str = "") -> str:
        return (
            f"INSERT INTO outbox (object, key, op, changed_at) "
            f"SELECT '{object_type}', {_key_expr(alias, keys)}, '{op}', now() FROM {source} {where};"
        )

    # Pair old and new rows by natural key. A changed key is a delete of the old key (so that a
    # replica drops it) and an update of the new one.
    same_key = " AND ".join(f"o.{_quote(c)} = n.{_quote(c)}" for c in keys)
    changed = insert_from(
        "delete", "o", "old_rows o", f"WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE {same_key})"
    ) + "\n" + insert_from(
        "update", "n", f"new_rows n LEFT JOIN old_rows o ON {same_key}", "WHERE o IS DISTINCT FROM n"
    )
    return [
        "CREATE OR REPLACE FUNCTION koppel_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $fn$\n"
        "BEGIN\nIF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN NEW.updated_at := now(); END IF;\n"
        "RETURN NEW;\nEND\n$fn$",
        function("insert", insert_from("insert", "n", "new_rows n")),
        function("update", changed),
        function("delete", insert_from("delete", "o", "old_rows o")),
        f"CREATE TRIGGER {name}_touch BEFORE UPDATE ON {table} FOR EACH ROW "
        f"WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION koppel_touch_updated_at()",
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_insert()",
        f"CREATE TRIGGER {name}_update AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}_update()",
        f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_delete()",
    ]


def postgresql_drop(object_type: str) -> list[str]:
    table = _quote(object_type)
    name = f"outbox_{object_type}"
    return [f"DROP TRIGGER IF EXISTS {name}_{op} ON {table}" for op in ("touch", "insert", "update", "delete")] + [
        f"DROP FUNCTION IF EXISTS {name}_{op}()" for op in ("insert", "update", "delete")
    ]


# --- both ---------------------------------------------------------------------------------


def install(connection: Connection, objects: Iterable[str] | None = None) -> None:
    """Create (or re-create) the outbox triggers of ``objects`` (default: every object table that
    exists: an early migration runs before later ones have created their tables)."""
    sqlite = connection.dialect.name == "sqlite"
    for object_type in objects or existing(connection):
        if sqlite:
            columns = [r[1] for r in connection.exec_driver_sql(f'PRAGMA table_info("{object_type}")')]
            statements = sqlite_drop(object_type) + sqlite_ddl(object_type, columns)
        else:
            statements = postgresql_drop(object_type) + postgresql_ddl(object_type)
        for statement in statements:
            connection.exec_driver_sql(statement)


def remove(connection: Connection, objects: Iterable[str] | None = None) -> None:
    """Drop the outbox triggers (used by the benchmark to measure their cost, and downgrades)."""
    drop = sqlite_drop if connection.dialect.name == "sqlite" else postgresql_drop
    for object_type in objects or existing(connection):
        for statement in drop(object_type):
            connection.exec_driver_sql(statement)


def existing(connection: Connection) -> list[str]:
    """The object tables that exist in the database now, in the models' order."""
    from sqlalchemy import inspect

    tables = set(inspect(connection).get_table_names())
    return [name for name in OBJECTS if name in tables]
