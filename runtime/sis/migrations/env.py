"""Alembic environment of the SIS store.

Its own version table, ``sis_alembic_version``, because Koppel's engine state may live in the same
database with an Alembic history of its own. Run through ``runtime.sis.schema.init`` (or
``koppel sis init``), which hands over an open connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from runtime.sis.models import Base

VERSION_TABLE = "sis_alembic_version"


def _include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001
    # Only our own tables: the engine's state tables may share the database.
    if type_ == "table":
        return name in Base.metadata.tables
    return True


def _configure(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        include_object=_include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _configure(connection)
else:  # plain ``alembic -c ...`` use: the URL from the config
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _configure(conn)
