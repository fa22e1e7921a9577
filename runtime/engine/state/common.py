"""Small helpers shared by the state modules: UTC time, JSON-safe values, lease holders."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

#: Alembic's version table of the state database (its own name: the state may share a database)
VERSION_TABLE = "koppel_state_alembic_version"


def sqlalchemy_core() -> tuple[Any, Any]:
    """SQLAlchemy and the state's tables (``models``), imported by the first StateStore method
    off a run's path: a run's own statements use the driver (connections.py) and import neither."""
    import sqlalchemy

    from runtime.engine.state import models

    return sqlalchemy, models


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def holder_id() -> str:
    """Who holds a lease: this process's random id and the thread (runtime/engine/lease.py)."""
    from runtime.engine.lease import holder_id as current

    return current()


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def jsonable(value: Any) -> Any:
    """A value the JSON column accepts (dates become ISO strings)."""
    return json.loads(json.dumps(value, default=_json_default))
