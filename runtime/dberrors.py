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
stops the run with a clear message instead of being retried forever.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from runtime.errors import ConfigError, KoppelError, RecordError, TransientError

# PostgreSQL SQLSTATE classes (Appendix A of its manual) that are worth trying again:
# 08 connection exception, 40 transaction rollback (deadlock, serialization), 53 insufficient
# resources, 57 operator intervention (admin shutdown, query cancelled), 58 system error.
_TRANSIENT_SQLSTATE = ("08", "40", "53", "57", "58")
_RECORD_SQLSTATE = ("22", "23")          # data exception, integrity constraint violation
# SQLite primary result codes that are about the file or the lock, not the statement:
# BUSY 5, LOCKED 6, NOMEM 7, IOERR 10, FULL 13, CANTOPEN 14, PROTOCOL 15.
_TRANSIENT_SQLITE = {5, 6, 7, 10, 13, 14, 15}
_SQLITE_CONSTRAINT = 19
# SQLite's texts for a wrong statement that name only identifiers, never values
_SQLITE_NAMES = re.compile(r"(no such (table|column|function): [\w.]+|table [\w.]+ has no column named \w+)")


def _orig(exc: BaseException) -> BaseException:
    return getattr(exc, "orig", None) or exc


def _sqlstate(exc: BaseException) -> str | None:
    orig = _orig(exc)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def is_outage(exc: BaseException) -> bool:
    """A connection-level failure (refused, dropped, invalidated, locked), not a bad statement."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    state = _sqlstate(exc)
    if state:
        return state.startswith(_TRANSIENT_SQLSTATE)
    code = getattr(_orig(exc), "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _TRANSIENT_SQLITE
    # psycopg reports a refused or dropped connection as OperationalError without a SQLSTATE
    return isinstance(exc, OperationalError)


def _kind(exc: BaseException) -> str:
    """What to call the error: driver class and SQLSTATE, never the driver's message."""
    state = _sqlstate(exc)
    return type(_orig(exc)).__name__ + (f", SQLSTATE {state}" if state else "")


def _names(exc: BaseException) -> str:
    """The constraint, table and column involved, where the driver says (no values)."""
    orig = _orig(exc)
    diag = getattr(orig, "diag", None)
    parts = []
    if diag is not None:
        for label, attr in (("constraint", "constraint_name"), ("table", "table_name"), ("column", "column_name")):
            value = getattr(diag, attr, None)
            if value:
                parts.append(f"{label} {value}")
    elif getattr(orig, "sqlite_errorcode", None) is not None:
        text = str(orig)
        match = re.match(r"(\w+) constraint failed: ([\w., ]+)$", text) or _SQLITE_NAMES.fullmatch(text)
        if match:
            parts.append(match.group(0))
    return "; ".join(parts)


def translate(exc: BaseException, what: str) -> KoppelError | None:
    """The Koppel error for a database error raised while doing ``what``; None if not one."""
    from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

    if not isinstance(exc, DBAPIError):
        return None
    kind, names = _kind(exc), _names(exc)
    detail = f" ({kind}{': ' + names if names else ''})"
    if is_outage(exc):
        return TransientError(f"{what} unavailable: {type(_orig(exc)).__name__}", code=_sqlstate(exc))
    state = _sqlstate(exc) or ""
    sqlite_code = getattr(_orig(exc), "sqlite_errorcode", None)
    constraint = isinstance(exc, IntegrityError) or state.startswith("23") or (
        sqlite_code is not None and sqlite_code & 0xFF == _SQLITE_CONSTRAINT)
    if constraint:
        return RecordError(f"{what}: refused by a constraint{detail}", code=state or "constraint")
    if isinstance(exc, DataError) or state.startswith(_RECORD_SQLSTATE):
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
