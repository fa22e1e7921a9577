"""A fake ``time.monotonic`` (or ``time.sleep``) for the test's own thread only.

``monkeypatch.setattr(time, "monotonic", fake)`` changes the clock of every thread of the test
process, not just of the code under test: also of the event loops of the stand-ins and servers
that other tests' session fixtures keep running (sandbox/runner.py serves each stand-in from a
thread). An asyncio loop times its sleeps on ``time.monotonic``: a timer it set on a fake clock
ahead of the real one, or a wait it measured against a fake clock behind it, keeps it in
``select`` for as long as the two clocks are apart (up to a day). Its server then no longer sees
``should_exit``, and each one cost its five-second join at the session's end (65 s for the REST
sandbox after the scheduler and outbox clock tests; the difference is the machine's uptime, so
it varied from machine to machine).

    patch_for_this_thread(monkeypatch, time, "monotonic", clock.monotonic)

The code under test runs on the test's thread (Scheduler.fire, OutboxReader.wait,
replay.store_once are called directly): it sees ``fake``; any other thread sees the real one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

#: marks a replacement that leaves the other threads alone (tests/conftest.py checks for it)
THREAD_AWARE = "_koppel_this_thread_only"


def patch_for_this_thread(monkeypatch: pytest.MonkeyPatch, module: Any, name: str,
                          fake: Callable[..., Any]) -> None:
    """``module.name`` is ``fake`` on the calling thread and the original on every other one,
    until the test ends (``monkeypatch`` undoes it)."""
    real = getattr(module, name)
    owner = threading.get_ident()

    def either(*args: Any, **kwargs: Any) -> Any:
        return (fake if threading.get_ident() == owner else real)(*args, **kwargs)

    setattr(either, THREAD_AWARE, True)
    monkeypatch.setattr(module, name, either)
