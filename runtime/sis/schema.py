"""Connecting to the SIS store and creating or upgrading its schema.

``engine(url)`` gives an engine with the settings the store relies on:
- SQLite: WAL journal (readers never block the writer), foreign keys enforced, a busy timeout so
  a second process waits for the write lock instead of failing, ``synchronous=NORMAL`` (safe with
  WAL: a power cut can lose the last transactions, never corrupt the file).
- PostgreSQL: ``postgresql+psycopg://`` (psycopg 3); a plain ``postgresql://`` URL is read as such.

``init(url)`` runs the Alembic migrations in ``migrations/`` up to head. It is idempotent: on an
existing store it only applies what is missing.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "sis_alembic_version"


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` → ``postgresql+psycopg://`` (the driver Koppel ships)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine(url: str, **kwargs) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        _ensure_parent(url)
        eng = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(eng, "connect", _sqlite_settings)
        return eng
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _ensure_parent(url: str) -> None:
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_settings(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(connection=None):  # noqa: ANN001, ANN201
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("version_table", VERSION_TABLE)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def init(url: str) -> tuple[str | None, str | None]:
    """Create or upgrade the schema at ``url``; returns (revision before, revision after)."""
    from alembic import command

    eng = engine(url)
    try:
        before = current_revision(eng)
        with eng.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
        return before, current_revision(eng)
    finally:
        eng.dispose()


def current_revision(eng: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with eng.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("the SIS migrations have no head revision")
    return head
