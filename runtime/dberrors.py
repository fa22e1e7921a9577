"""Database outages in the error taxonomy: a lost or refused connection is transient.

Every plugin that reads or writes a database through SQLAlchemy wraps its calls in
``database_outage(what)``, so a restarted PostgreSQL is retried with backoff instead of being
logged as an unexpected failure with the driver's raw message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from runtime.errors import TransientError


def is_outage(exc: BaseException) -> bool:
    """A connection-level failure (refused, dropped, invalidated), not a bad statement."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if not isinstance(exc, DBAPIError):
        return False
    return bool(exc.connection_invalidated) or isinstance(exc, (OperationalError, InterfaceError))


@contextmanager
def database_outage(what: str) -> Iterator[None]:
    """Re-raise an outage inside the block as TransientError naming ``what``, never the SQL."""
    try:
        yield
    except Exception as exc:
        if is_outage(exc):
            orig = getattr(exc, "orig", None)
            raise TransientError(f"{what} unavailable: {type(orig or exc).__name__}") from exc
        raise
