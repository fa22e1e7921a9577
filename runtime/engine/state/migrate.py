"""Bring the state tables to the newest schema with Alembic, safely from several processes."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"
#: any constant will do: it only has to be the same in every Koppel process
_ADVISORY_LOCK = 0x4B6F7070656C


def alembic_config(url: str | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


_lock = threading.Lock()  # Alembic's context is process-global: one migration at a time


def migrate(engine: Engine) -> None:
    """Upgrade to head. On PostgreSQL an advisory lock keeps two starting daemons apart."""
    from alembic import command

    cfg = alembic_config()
    with _lock, engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK})
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
