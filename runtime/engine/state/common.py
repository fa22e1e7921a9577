"""Small helpers shared by the state modules: UTC time, JSON-safe values, lease holders."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
from typing import Any


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def holder_id() -> str:
    """Who holds a lease: host and process, so a dead holder on this host is recognised at once."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _holder_alive(holder: str) -> bool | None:
    """True/False for a holder on this host; None when it lives elsewhere (only expiry tells)."""
    try:
        host, pid, _thread = holder.rsplit(":", 2)
        pid_number = int(pid)
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    if pid_number == os.getpid():
        return True
    try:
        os.kill(pid_number, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def jsonable(value: Any) -> Any:
    """A value the JSON column accepts (dates become ISO strings)."""
    return json.loads(json.dumps(value, default=_json_default))
