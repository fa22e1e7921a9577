"""Bulk writing of generated rows, one transaction, the triggers left on.

Measured on this kind of machine (research/performance-notes.md): SQLite ``executemany`` in one
transaction with WAL ≈ 310 k rows/s (SQLAlchemy Core ≈ 143 k, ORM ≈ 75 k); PostgreSQL ``COPY``
≈ 530 k rows/s (executemany ≈ 119 k). So both paths use the driver connection directly.
"""

from __future__ import annotations

from runtime.errors import ConfigError
from runtime.sis import schema
from runtime.sis.models import OBJECTS

STAMPS = ("created_at", "updated_at")


def columns(object_type: str) -> list[str]:
    return [c.name for c in OBJECTS[object_type].__table__.columns if c.name not in STAMPS]


def given_columns(object_type: str, table_rows: list[tuple]) -> list[str]:
    """The columns the rows fill: all of them, or the leading ones. A column a later migration
    added at the end (nullable or with a server default) may be left to its default, so the
    generator need not change with every column that it has nothing to say about."""
    every = columns(object_type)
    width = len(table_rows[0]) if table_rows else len(every)
    if width > len(every):
        raise ValueError(f"{object_type}: rows have {width} values, the table {len(every)}")
    for name in every[width:]:
        column = OBJECTS[object_type].__table__.columns[name]
        if not column.nullable and column.server_default is None:
            raise ValueError(f"{object_type}: rows have {width} values, and {name} has no default")
    return every[:width]


def write_rows(url: str, rows: dict[str, list[tuple]], *, require_empty: bool = True) -> dict[str, int]:
    for object_type, table_rows in rows.items():
        given_columns(object_type, table_rows)  # refuse a wrong width before anything is written
    engine = schema.engine(url)
    try:
        raw = engine.raw_connection()
        try:
            driver = raw.driver_connection
            if engine.dialect.name == "sqlite":
                _sqlite(driver, rows, require_empty)
            else:
                _postgresql(driver, rows, require_empty)
        finally:
            raw.close()
    finally:
        engine.dispose()
    return {name: len(table_rows) for name, table_rows in rows.items()}


def _refuse_if_filled(count: int) -> None:
    if count:
        raise ConfigError(
            f"the SIS store already holds {count} people; seed an empty store "
            "(a new KOPPEL_SIS_URL, or drop the database and run 'koppel sis init')"
        )


def _sqlite(connection, rows: dict[str, list[tuple]], require_empty: bool) -> None:  # noqa: ANN001
    if require_empty:
        _refuse_if_filled(connection.execute("SELECT count(*) FROM person").fetchone()[0])
    # One timestamp for the whole load, written as a literal: computing it per row and column
    # in SQL (strftime) would cost more than the insert itself.
    now = connection.execute("SELECT strftime('%Y-%m-%d %H:%M:%f000', 'now')").fetchone()[0]
    try:
        connection.execute("BEGIN")
        for object_type, table_rows in rows.items():
            cols = given_columns(object_type, table_rows)
            statement = (
                f'INSERT INTO "{object_type}" ({", ".join(cols)}, created_at, updated_at) '
                f"VALUES ({', '.join('?' * len(cols))}, '{now}', '{now}')"
            )
            connection.executemany(statement, table_rows)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    connection.execute("PRAGMA optimize")


def _postgresql(connection, rows: dict[str, list[tuple]], require_empty: bool) -> None:  # noqa: ANN001
    with connection.cursor() as cursor:
        if require_empty:
            _refuse_if_filled(cursor.execute("SELECT count(*) FROM person").fetchone()[0])
        try:
            cursor.execute("SET LOCAL TIME ZONE 'UTC'")  # the generated timestamps are UTC
            for object_type, table_rows in rows.items():
                if not table_rows:
                    continue
                cols = ", ".join(f'"{c}"' for c in given_columns(object_type, table_rows))
                with cursor.copy(f'COPY "{object_type}" ({cols}) FROM STDIN') as copy:
                    for row in table_rows:
                        copy.write_row(row)
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
    connection.autocommit = True
    try:
        connection.execute("ANALYZE")
    finally:
        connection.autocommit = False
