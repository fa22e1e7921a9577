"""Fixtures of the state-at-rest tests: a project of fake plugins whose catalog names data keys,
state databases on SQLite and on the real PostgreSQL, and a scan of every table and column."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
for path in (str(_ROOT), str(_ROOT / "tests" / "engine")):
    if path not in sys.path:
        sys.path.insert(0, path)

import engine_fakes as fakes  # noqa: E402

from runtime.engine.state import crypto  # noqa: E402
from runtime.engine.state.crypto import new_key_text  # noqa: E402
from tests import pgdb  # noqa: E402


@pytest.fixture(autouse=True)
def _no_keyring_left():
    """The keyring is per process: no test hands its keys to the next one."""
    yield
    crypto.configure(None)
    fakes.SOURCES.clear()
    fakes.TARGETS.clear()


@pytest.fixture
def key_files(tmp_path):
    """Two fresh data keys in files, as the sandbox keeps them."""
    paths = {}
    for kid in ("k1", "k2"):
        paths[kid] = tmp_path / f"state-key-{kid}"
        paths[kid].write_text(new_key_text() + "\n")
    return paths


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request, tmp_path):
    yield from pgdb.state_url(request.param, tmp_path, "state")
