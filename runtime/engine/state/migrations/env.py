"""Alembic environment of Koppel's state tables (``koppel_*``).

Run programmatically by ``runtime.engine.state.migrate``; the connection is handed over in
``config.attributes["connection"]``. Its own version table lets the SIS store keep a separate
Alembic history in the same database.
"""

from __future__ import annotations

from alembic import context

from runtime.engine.state.models import VERSION_TABLE, metadata


def _ours(obj, name, type_, reflected, compare_to) -> bool:
    # Only Koppel's state tables: the SIS store's tables may live in the same database.
    if type_ == "table":
        return bool(name) and name.startswith("koppel_") and name != VERSION_TABLE
    return True


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        from sqlalchemy import create_engine

        url = context.config.get_main_option("sqlalchemy.url")
        assert url, "alembic: sqlalchemy.url is not set"
        engine = create_engine(url)
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
        return
    _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_object=_ours,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
