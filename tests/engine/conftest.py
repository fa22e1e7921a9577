from __future__ import annotations

import pytest

from runtime.engine import Engine
import engine_fakes as fakes


@pytest.fixture
def reg():
    return fakes.registry()


@pytest.fixture
def make_engine(tmp_path, reg):
    engines = []

    def make(interfaces: list[dict], registry=None, url: str | None = None) -> Engine:
        registry = registry or reg
        project = fakes.make_project(tmp_path, registry, interfaces)
        engine = Engine(project, registry, "sandbox", state_url=url or f"sqlite:///{tmp_path / 'state.db'}")
        engines.append(engine)
        return engine

    yield make
    for e in engines:
        e.close()
    fakes.SOURCES.clear()
    fakes.TARGETS.clear()
