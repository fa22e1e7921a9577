"""Bring the state tables to the newest schema with Alembic, safely from several processes."""

from __future__ import annotations

import ast
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: every `koppel run` reads script_heads, without SQLAlchemy
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


#: a top-level ``revision = ...`` or ``down_revision = ...`` line of a migration script
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


def script_heads() -> set[str]:
    """The head revisions of the migration scripts, read from their ``revision``/``down_revision``
    lines without Alembic (its import costs ~1 s of every command's start-up), and without
    parsing each script whole (every ``koppel run`` asks)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        names: dict[str, object] = {}
        for name, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            try:
                names.setdefault(name, ast.literal_eval(value))
            except (ValueError, SyntaxError):
                continue
        revisions.add(str(names["revision"]))
        down = names.get("down_revision")
        parents.update([down] if isinstance(down, str) else list(down or ()))  # type: ignore[call-overload]
    return revisions - parents


def at_heads(stamped: set[str]) -> bool:
    """The version table's rows are the scripts' heads (none: a new database, not current)."""
    return bool(stamped) and stamped == script_heads()


def is_current(engine: Engine) -> bool:
    """The database is at the scripts' heads already: nothing to migrate, no Alembic to import."""
    from sqlalchemy import text

    from runtime.engine.state.common import VERSION_TABLE

    try:  # no version table (a new database) fails the query: not current
        with engine.connect() as connection:
            stamped = {row[0] for row in connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))}
        return at_heads(stamped)
    except Exception:  # noqa: BLE001 - any doubt: let Alembic decide (and report)
        return False


def migrate(engine: Engine) -> None:
    """Upgrade to head. On PostgreSQL an advisory lock keeps two starting daemons apart."""
    if is_current(engine):
        return
    from alembic import command
    from sqlalchemy import text

    cfg = alembic_config()
    with _lock, engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK})
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
