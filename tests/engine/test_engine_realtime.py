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


def _person_interface(tmp_path, sis_url, state_url, monkeypatch, batch: bool = True):
    """A SIS store at ``sis_url``, an HTTP test target, and an engine running interface 11: the
    outbox of ``person`` to that target. (engine, target state, server, source spec)."""
    from runtime.sis import schema

    schema.init(sis_url)
    monkeypatch.setenv("KOPPEL_SIS_URL", sis_url)
    state = engine_http.TargetState()
    server, url = engine_http.start_server(state)
    source, extra = engine_outbox.sis_source_spec(sis_url, ["person"])
    reg = fakes.registry({"httptest": engine_http.plugin(), **extra})
    project = fakes.make_project(tmp_path, reg, [{
        "id": 11, "type": "realtime", "objects": ["person"],
        "trigger": {"type": "outbox", "objects": ["person"], "poll": 0.05},
        "source": source, "targets": [{"type": "httptest", "url": url, "batch": batch}]}])
    return Engine(project, reg, state_url=state_url), state, server, source


def _run(tmp_path, sis_url, state_url, monkeypatch):
    engine, state, server, source = _person_interface(tmp_path, sis_url, state_url, monkeypatch, batch=False)
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


def test_a_change_of_an_included_object_wakes_the_interface(tmp_path, monkeypatch):
    """The trigger lists only ``student``; the source includes ``person``: a new tussenvoegsel
    reaches the target without ``person`` in trigger.objects and without a restart."""
    pytest.importorskip("plugins.sis.source", reason="the sis plugin is not in this tree")
    import plugins.sis
    from runtime.sis import schema

    sis_url = f"sqlite:///{tmp_path / 'sis.db'}"
    schema.init(sis_url)
    monkeypatch.setenv("KOPPEL_SIS_URL", sis_url)
    state = engine_http.TargetState()
    server, url = engine_http.start_server(state)
    reg = fakes.registry({"httptest": engine_http.plugin(), "sis": plugins.sis.plugin})
    project = fakes.make_project(tmp_path, reg, [{
        "id": 28, "type": "realtime", "objects": ["student"],
        "trigger": {"type": "outbox", "objects": ["student"], "poll": 0.05},
        "source": {"type": "sis", "object": "student", "mode": "outbox", "include": ["person"]},
        "targets": [{"type": "httptest", "url": url}]}])
    from runtime.engine.realtime import wake_reasons

    assert wake_reasons(project.interfaces[28]) == {"person": ["included by source student"],
                                                    "student": ["trigger.objects", "source student"]}
    engine = Engine(project, reg, state_url=f"sqlite:///{tmp_path / 'state.db'}")
    realtime = Realtime(engine)
    realtime.start()
    db = create_engine(sis_url)
    try:
        assert _wait_for(lambda: engine.store.cursor(28, "sis") is not None)
        with db.begin() as c:
            c.execute(text("INSERT INTO person (person_number, last_name) VALUES ('P7', 'Berg')"))
            c.execute(text("INSERT INTO student (student_number, person_number) VALUES ('S7', 'P7')"))
        assert _wait_for(lambda: "S7" in state.source_keys)
        with db.begin() as c:
            c.execute(text("UPDATE person SET tussenvoegsel = 'van den' WHERE person_number = 'P7'"))

        def tussenvoegsels():
            with state.lock:
                return [item["payload"].get("person", {}).get("tussenvoegsel") for _, item in state.arrivals
                        if item["source_key"] == "S7"]

        assert _wait_for(lambda: tussenvoegsels()[-1:] == ["van den"], 10), tussenvoegsels()
        assert tussenvoegsels() == [None, "van den"]
    finally:
        realtime.stop(timeout=10)
        db.dispose()
        engine.close()
        server.shutdown()


def test_koppel_validate_says_what_wakes_each_realtime_interface(project_root):
    import json

    from click.testing import CliRunner

    from runtime.cli import main

    result = CliRunner().invoke(main, ["--project", str(project_root), "validate", "--format", "json"])
    wakes = json.loads(result.stdout)["wakes"]
    assert wakes["24"]["enrollment"] == ["trigger.objects", "source enrollment"]
    assert wakes["24"]["student"] == ["included by source enrollment"]
    assert "1" not in wakes  # a webhook interface is woken by its calls, not by the outbox
    from runtime.cli.definitions import wakeup_lines

    assert wakeup_lines({"24": wakes["24"]}) == [
        "what wakes each realtime interface (changes in the outbox of):",
        "  24  enrollment; included by its source: internship, program, student"]


def test_the_loop_survives_failing_runs_and_closes_what_they_left_running(tmp_path, monkeypatch):
    """A run that raises (the state database went away mid-run, so its row stays ``running``)
    does not end the loop: it backs off, closes that row as ``interrupted`` once the database
    answers, and the next change still arrives."""
    from sqlalchemy.exc import OperationalError

    import runtime.engine.realtime as realtime_module
    from runtime.engine.lease import holder_id

    monkeypatch.setattr(realtime_module, "DATABASE_BACKOFF", 0.1)
    sis_url = f"sqlite:///{tmp_path / 'sis.db'}"
    engine, state, server, source = _person_interface(tmp_path, sis_url, f"sqlite:///{tmp_path / 'state.db'}",
                                                      monkeypatch)
    real, broken = engine.run_interface, []

    def outage(iid, trigger="manual", **kw):
        if len(broken) < 2:
            broken.append(engine.store.start_run(iid, trigger, holder=holder_id()))
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
        return real(iid, trigger, **kw)

    monkeypatch.setattr(engine, "run_interface", outage)
    realtime = Realtime(engine)
    realtime.start()
    loop = realtime.loops[11]
    db = create_engine(sis_url)
    try:
        assert _wait_for(lambda: engine.store.cursor(11, source["type"]) is not None)
        assert _wait_for(lambda: loop.status.failures == 0 and loop.status.state in ("idle", "running"))
        assert loop.is_alive() and len(broken) == 2
        with db.begin() as c:
            c.execute(text("INSERT INTO person (person_number, last_name) VALUES ('P9', 'Visser')"))
        assert _wait_for(lambda: "P9" in state.source_keys)
        def outcomes():
            return {r["id"]: r["outcome"] for r in engine.store.list_runs(11)}

        assert [outcomes()[i] for i in broken] == ["interrupted", "interrupted"]
        assert _wait_for(lambda: "running" not in outcomes().values()), outcomes()  # the run of P9 ends
    finally:
        realtime.stop(timeout=10)
        db.dispose()
        engine.close()
        server.shutdown()
