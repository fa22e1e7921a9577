from __future__ import annotations

import sys
from pathlib import Path

import pytest

# tests/plugins (a folder of tests) must not shadow the real ``plugins`` package: put the
# project root first, so ``import plugins.rest`` finds the code, not the tests.
_ROOT = str(Path(__file__).resolve().parents[2])
if sys.path[0] != _ROOT:
    sys.path.insert(0, _ROOT)

from runtime.engine import Engine
import engine_fakes as fakes

from tests import pgdb


@pytest.fixture
def reg():
    return fakes.registry()


@pytest.fixture
def make_engine(tmp_path, reg):
    engines = []

    def make(interfaces: list[dict], registry=None, url: str | None = None, systems: dict | None = None) -> Engine:
        registry = registry or reg
        project = fakes.make_project(tmp_path, registry, interfaces, systems)
        engine = Engine(project, registry, "sandbox", state_url=url or f"sqlite:///{tmp_path / 'state.db'}")
        engines.append(engine)
        return engine

    yield make
    for e in engines:
        e.close()
    fakes.SOURCES.clear()
    fakes.TARGETS.clear()


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    yield from pgdb.fresh("engine")


@pytest.fixture
def cli_on(monkeypatch):
    """``cli_on(engine)``: the ``koppel`` commands (runtime.engine.cli) run on this engine, which
    they do not close; returns a CliRunner. The masking tests read what each command shows."""
    from click.testing import CliRunner

    import runtime.engine.cli as cli

    def use(engine: Engine) -> CliRunner:
        monkeypatch.setattr(cli, "_engine", lambda ctx, only=None: engine)
        monkeypatch.setattr(engine, "close", lambda: None)
        return CliRunner()

    return use


@pytest.fixture
def json_logs():
    """Koppel's JSON log lines at DEBUG, into a StringIO; its handlers are removed afterwards."""
    import io
    import logging

    from runtime.engine.logs import configure

    stream = io.StringIO()
    configure(json_lines=True, stream=stream, level="DEBUG")
    yield stream
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_koppel", False)]
