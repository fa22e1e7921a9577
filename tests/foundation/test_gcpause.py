"""``paused_gc``: the collector is off inside and back as it was after; with ``freeze`` what the
pause made is frozen first, so no collection walks it when the collector resumes (the driver's
import of the db plugin's first connection)."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

import pytest

from runtime.gcpause import paused_gc


def test_the_collector_is_off_inside_and_as_it_was_after():
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc(freeze=True):
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
        gc.unfreeze()


def _collectable(obj) -> bool:
    """Whether the collector walks ``obj`` (any generation; frozen objects are in none)."""
    return any(o is obj for o in gc.get_objects())


def test_with_freeze_what_the_pause_made_is_not_young_when_the_collector_resumes():
    try:
        with paused_gc(freeze=True):
            made = [[i] for i in range(5000)]
        assert not _collectable(made) and not _collectable(made[-1])  # in the permanent generation
        with paused_gc():
            more = [[i] for i in range(5000)]
        assert _collectable(more) and _collectable(more[-1])  # without freeze: walked as before
    finally:
        gc.unfreeze()


@pytest.mark.postgres
def test_the_first_postgresql_connection_freezes_the_drivers_import_and_later_ones_freeze_nothing():
    code = textwrap.dedent("""
        import gc, sys
        from plugins.db.dsn import connect
        assert "psycopg" not in sys.modules
        before = gc.get_freeze_count()
        connect("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", "test").close()
        first = gc.get_freeze_count()
        connect("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", "test").close()
        print(before, first, gc.get_freeze_count(), len(gc.get_objects(0)))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    before, first, second, young = map(int, done.stdout.split())
    assert first - before > 10_000  # psycopg's modules, classes and functions
    assert second == first and young < 5_000
