"""The clock of ``now()``/``today()``, fixable per mapping test case so tests stay repeatable."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

_fixed: ContextVar[datetime | None] = ContextVar("koppel_mapping_now", default=None)


def current_time() -> datetime:
    return _fixed.get() or datetime.now(timezone.utc)


@contextmanager
def fixed_time(moment: datetime | None) -> Iterator[None]:
    token = _fixed.set(moment)
    try:
        yield
    finally:
        _fixed.reset(token)
