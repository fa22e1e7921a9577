"""Realtime: a change written with plain SQL into the SIS store reaches a local HTTP target."""

from __future__ import annotations

import time

import engine_fakes as fakes
import engine_http
import engine_outbox
import pytest
from sqlalchemy import create_engine, text

from runtime.engine import Engine
from runtime.engine.realtime import Realtime

pytest.importorskip("runtime.sis.outbox", reason="the SIS store is not in this tree yet")


def _wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _run(tmp_path, sis_url, state_url, monkeypatch):
    from runtime.sis import schema

    schema.init(sis_url)
    monkeypatch.setenv("KOPPEL_SIS_URL", sis_url)
    state = engine_http.TargetState()
    server, url = engine_http.start_server(state)
    source, extra = engine_outbox.sis_source_spec(sis_url, ["person"])
    import engine_http as eh

    reg = fakes.registry({"httptest": eh.plugin(), **extra})
    project = fakes.make_project(tmp_path, reg, [{
        "id": 11, "type": "realtime", "objects": ["person"],
        "trigger": {"type": "outbox", "objects": ["person"], "poll": 0.05},
        "source": source, "targets": [{"type": "httptest", "url": url, "batch": False}]}])
    engine = Engine(project, reg, state_url=state_url)
    realtime = Realtime(engine)
    realtime.start()
    try:
        # a new outbox interface starts at the end of the outbox: wait until it has pinned that
        assert _wait_for(lambda: engine.store.cursor(11, source["type"]) is not None)
        db = create_engine(sis_url)
        with db.begin() as c:
            c.execute(text("INSERT INTO person (person_number, last_name, bsn) VALUES ('P100', 'Jansen', '111222333')"))
        assert _wait_for(lambda: "P100" in state.source_keys), "the change did not reach the target"
        with db.begin() as c:
            c.execute(text("UPDATE person SET last_name = 'Jansen-de Vries' WHERE person_number = 'P100'"))
        assert _wait_for(lambda: len(state.applied) >= 2)
        db.dispose()
    finally:
        realtime.stop(timeout=10)
        engine.close()
        server.shutdown()
    return state


def test_sql_change_reaches_http_target_sqlite(tmp_path, monkeypatch):
    state = _run(tmp_path, f"sqlite:///{tmp_path / 'sis.db'}", f"sqlite:///{tmp_path / 'state.db'}", monkeypatch)
    assert state.source_keys["P100"] >= 1


@pytest.mark.postgres
def test_sql_change_reaches_http_target_postgresql(tmp_path, monkeypatch, pg_url):
    state = _run(tmp_path, pg_url, pg_url, monkeypatch)
    assert state.source_keys["P100"] >= 1
