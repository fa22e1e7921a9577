"""Database errors in the error taxonomy, by what they mean for the run.

| what the database said                                  | error          | why                        |
|---------------------------------------------------------|----------------|----------------------------|
| connection refused, lost, invalidated; server shutting  | TransientError | it may be back in a minute |
| down; deadlock, serialization failure, statement        |                |                            |
| cancelled; SQLite busy/locked/cannot open/I/O error      |                |                            |
| a constraint refused the row (unique, foreign key, ...) | RecordError    | this record; others go on  |
| a value the column cannot hold (too long, bad number)   | RecordError    | idem                       |
| the statement itself is wrong (syntax, no such table or | ConfigError    | retrying cannot fix SQL:   |
| column, permission denied)                              |                | the run stops and says so  |

No message carries the SQL or a value: SQLAlchemy's own text has both (``[SQL: ...]``,
``[parameters: ...]``), and the driver's text can quote a value (``invalid input syntax for
type integer: "..."``). Messages name what may be named: the SQLSTATE, the driver's error
class, the constraint, table and column.

Every plugin that reads or writes a database through SQLAlchemy wraps its calls in
``database_outage(what)``, so a restarted PostgreSQL is retried with backoff and a broken query
stops the run with a clear message instead of being retried forever. The drivers' own errors
(``sqlite3``, psycopg: the state store's run statements use them directly) are sorted the same
way, by their DB-API class.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from runtime.errors import ConfigError, KoppelError, RecordError, TransientError

# PostgreSQL SQLSTATE classes (Appendix A of its manual) that are worth trying again:
# 08 connection exception, 40 transaction rollback (deadlock, serialization), 53 insufficient
# resources, 57 operator intervention (admin shutdown, query cancelled), 58 system error.
_TRANSIENT_SQLSTATE = ("08", "40", "53", "57", "58")
# SQLite primary result codes that are about the file or the lock, not the statement:
# BUSY 5, LOCKED 6, NOMEM 7, IOERR 10, FULL 13, CANTOPEN 14, PROTOCOL 15.
_TRANSIENT_SQLITE = {5, 6, 7, 10, 13, 14, 15}
# SQLite's texts that name only identifiers, never values: a constraint, a missing name
_SQLITE_NAMES = re.compile(
    r"[A-Z][A-Z ]* constraint failed: [\w., ]+|no such (table|column|function): [\w.]+|table [\w.]+ has no column named \w+")


def _driver_error(exc: BaseException) -> tuple[BaseException, set[str], bool] | None:
    """For a database error, raw or wrapped by SQLAlchemy: the driver's own error, the DB-API
    classes it is (``IntegrityError``, ``OperationalError``, ...), and whether SQLAlchemy saw the
    connection go. None for any other exception. SQLAlchemy is not imported for this: an error of
    its own means it is loaded already."""
    wrapper = sys.modules.get("sqlalchemy.exc")
    if wrapper is not None and isinstance(exc, wrapper.DBAPIError):
        kinds = {c.__name__ for c in type(exc).__mro__}
        return exc.orig, kinds, bool(exc.connection_invalidated)
    psycopg = sys.modules.get("psycopg")
    if isinstance(exc, sqlite3.Error) or (psycopg is not None and isinstance(exc, psycopg.Error)):
        return exc, {c.__name__ for c in type(exc).__mro__}, False
    return None


def is_outage(exc: BaseException) -> bool:
    """A connection-level failure (refused, dropped, invalidated, locked), not a bad statement."""
    found = _driver_error(exc)
    if found is None:
        return False
    orig, kinds, invalidated = found
    if invalidated or "InterfaceError" in kinds:
        return True
    state = getattr(orig, "sqlstate", None)
    if state:
        return state.startswith(_TRANSIENT_SQLSTATE)
    code = getattr(orig, "sqlite_errorcode", None)  # absent when Python's sqlite3 raised it itself
    if code is not None:
        return code & 0xFF in _TRANSIENT_SQLITE
    # psycopg reports a refused or dropped connection as OperationalError without a SQLSTATE
    return "OperationalError" in kinds


def _detail(orig: BaseException) -> str:
    """`` (UniqueViolation, SQLSTATE 23505: constraint c; table t)``: the driver's error class
    and what it names (constraint, table, column), never its message, which may quote a value."""
    state = getattr(orig, "sqlstate", None)
    kind = type(orig).__name__ + (f", SQLSTATE {state}" if state else "")
    parts = []
    diag = getattr(orig, "diag", None)
    if diag is not None:
        for label in ("constraint", "table", "column"):
            value = getattr(diag, f"{label}_name")
            if value:
                parts.append(f"{label} {value}")
    elif isinstance(orig, sqlite3.Error):
        match = _SQLITE_NAMES.fullmatch(str(orig))
        if match:
            parts.append(match.group(0))
    return f" ({kind}: {'; '.join(parts)})" if parts else f" ({kind})"


def translate(exc: BaseException, what: str) -> KoppelError | None:
    """The Koppel error for a database error raised while doing ``what``; None if not one."""
    found = _driver_error(exc)
    if found is None:
        return None
    orig, kinds, _ = found
    state = getattr(orig, "sqlstate", None)
    if is_outage(exc):
        return TransientError(f"{what} unavailable: {type(orig).__name__}", code=state)
    detail = _detail(orig) if orig is not None else ""
    if "IntegrityError" in kinds:
        return RecordError(f"{what}: refused by a constraint{detail}", code=state or "constraint")
    if "DataError" in kinds:
        return RecordError(f"{what}: a value does not fit its column{detail}", code=state or "data")
    return ConfigError(f"{what}: the database refused the statement{detail}", code=state or "statement")


@contextmanager
def database_outage(what: str) -> Iterator[None]:
    """Re-raise a database error inside the block in the taxonomy, naming ``what``, never the SQL."""
    try:
        yield
    except Exception as exc:
        error = translate(exc, what)
        if error is None:
            raise
        raise error from None  # from None: the chained driver text holds the SQL and the values
