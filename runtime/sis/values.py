"""Record values → column values: ISO strings to dates and timestamps, flags and numbers checked.

A value that does not fit its column is a ContractError naming the field (never the value).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Float, Integer, Table

from runtime.errors import ContractError

STAMPS = ("created_at", "updated_at")


def row_values(table: Table, object_type: str, payload: Any, dialect: str, path: str = "") -> dict[str, Any]:
    """The columns of ``payload`` converted for ``table``; the database keeps the stamps."""
    if not isinstance(payload, dict):
        raise ContractError(f"a {object_type} record must be an object, not {type(payload).__name__}", path=path or None)
    values: dict[str, Any] = {}
    for name, value in payload.items():
        if name in STAMPS:
            continue
        if name not in table.c:
            raise ContractError(f"not a field of SIS object '{object_type}'", path=f"{path}{name}")
        values[name] = convert(table.c[name].type, value, f"{path}{name}", dialect)
    return values


def convert(column_type, value: Any, name: str, dialect: str) -> Any:  # noqa: ANN001
    if value is None:
        return None
    try:
        if isinstance(column_type, DateTime):
            moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.timezone.utc)
            moment = moment.astimezone(dt.timezone.utc)
            return moment.replace(tzinfo=None) if dialect == "sqlite" else moment
        if isinstance(column_type, Date):
            if isinstance(value, dt.datetime):
                return value.date()
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
        if isinstance(column_type, Boolean):
            if isinstance(value, bool):
                return value
            if value in (0, 1) or str(value).lower() in ("0", "1", "true", "false"):
                return str(value).lower() in ("1", "true")
            raise ValueError
        if isinstance(column_type, Integer):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if isinstance(column_type, Float):
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if isinstance(value, (dict, list)):
            raise ValueError
        return str(value)
    except (TypeError, ValueError):
        kind = type(column_type).__name__.lower()
        raise ContractError(f"not a valid {kind}", path=name) from None


