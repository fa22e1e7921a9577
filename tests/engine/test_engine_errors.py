"""The error taxonomy in the pipeline: transient (backoff, Retry-After), record (dead letter at
once, replay through the current mapping), configuration (the run stops, the cursor stays)."""

from __future__ import annotations

import random

import engine_fakes as fakes
import pytest

from runtime.engine.deadletters import DeadLetters
from runtime.engine.retry import Backoff
from runtime.errors import ConfigError, MappingError, TransientError


def test_backoff_is_exponential_bounded_jittered_and_honours_retry_after():
    b = Backoff(max_attempts=8, initial_delay=1, max_delay=30, multiplier=2, jitter=False)
    assert [b.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert b.delay(1, TransientError("429", retry_after=12)) == 12
    assert b.delay(1, TransientError("429", retry_after=999)) == 30  # capped at max_delay
    jittered = Backoff(initial_delay=8, jitter=True)
    rng = random.Random(1)
    values = [jittered.delay(1, rng=rng) for _ in range(200)]
    assert min(values) >= 4 and max(values) <= 8 and len(set(values)) > 100


def _iface(**extra):
    return {"id": 7, "source": {"type": "memory", "name": "src"}, "targets": [{"type": "memtarget", "name": "tgt"}],
            "delivery": {"batch_size": 10, "retries": {"max_attempts": 3, "initial_delay": 0.001, "max_delay": 0.001}},
            **extra}


def test_configuration_error_stops_the_run_and_keeps_the_cursor(make_engine):
    fakes.SOURCES["src"] = fakes.records(30)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface()])
    original = fakes.MemoryTarget.write
    calls = []

    def broken(self, items):
        calls.append(len(items))
        if len(calls) == 2:
            raise ConfigError("peer answered 401: check the credentials of system 'peer'")
        return original(self, items)

    fakes.MemoryTarget.write = broken
    try:
        summary = engine.run_interface(7)
    finally:
        fakes.MemoryTarget.write = original
    assert summary.outcome == "error" and "401" in summary.message
    assert summary.delivered == 10
    assert engine.store.cursor(7, "memory") == "10"  # the first batch only
    assert engine.store.list_runs(7)[0]["outcome"] == "error"


def test_mapping_failure_is_a_dead_letter_and_replay_uses_the_current_mapping(make_engine):
    fakes.SOURCES["src"] = fakes.records(10)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface(mapping="studenten")])

    def old_mapping(record):
        if record["n"] in (2, 5):
            raise MappingError("unknown code in 'name'", path="name")
        return {"nummer": record["id"]}

    def new_mapping(record):
        return {"nummer": record["id"], "fixed": True}

    old_mapping.version = "1"
    new_mapping.version = "2"
    engine._mappings["studenten"] = old_mapping
    summary = engine.run_interface(7)
    assert (summary.delivered, summary.dead) == (8, 2)
    letters = engine.store.dead_letters(interface_id=7)
    assert {(d["stage"], d["error_class"], d["source_key"]) for d in letters} == {("mapping", "record", "s2"), ("mapping", "record", "s5")}
    assert letters[0]["record"]["data"]["n"] == 2  # the source record as read
    assert engine.store.delivery(7, "memtarget", "s0")["mapping_version"] == "studenten@1"

    engine._mappings["studenten"] = new_mapping
    results = DeadLetters(engine).replay(interface_id=7)
    assert [r.status for r in results] == ["delivered", "delivered"]
    assert [i.payload for i in target.received[-2:]] == [{"nummer": "s2", "fixed": True}, {"nummer": "s5", "fixed": True}]
    assert engine.store.delivery(7, "memtarget", "s5")["mapping_version"] == "studenten@2"


def test_replay_of_an_old_change_does_not_undo_a_newer_one(make_engine):
    fakes.SOURCES["src"] = fakes.records(3)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s1"})
    engine = make_engine([_iface()])
    engine.run_interface(7)
    target.reject.clear()
    fakes.SOURCES["src"].append(fakes.Record(key="s1", data={"id": "s1", "n": 1, "name": "Newer"}))
    engine.run_interface(7)  # the newer change of s1 is delivered
    results = DeadLetters(engine).replay(interface_id=7)
    assert [r.status for r in results] == ["superseded"]
    assert [i.payload["name"] for i in target.received if i.source_key == "s1"] == ["Newer"]
    forced = engine.store.dead_letters(interface_id=7, status="superseded")
    assert len(forced) == 1


def test_replay_of_two_refused_versions_sends_only_the_newest(make_engine):
    # s1 refused as c1, then (a later run) refused again as c2: the target must end with c2 and
    # the letter holding c2 must not be closed by the delivery of c1
    fakes.SOURCES["src"] = fakes.records(3)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s1"})
    engine = make_engine([_iface()])
    engine.run_interface(7)
    fakes.SOURCES["src"].append(fakes.Record(key="s1", data={"id": "s1", "n": 1, "name": "c2"}))
    engine.run_interface(7)
    c1, c2 = DeadLetters(engine).list(interface_id=7)
    assert (c1["record"]["data"]["name"], c2["record"]["data"]["name"]) == ("Student 1", "c2")
    target.reject.clear()
    results = DeadLetters(engine).replay(interface_id=7)
    assert [(r.id, r.status) for r in results] == [(c1["id"], "superseded"), (c2["id"], "delivered")]
    assert [i.payload["name"] for i in target.received if i.source_key == "s1"] == ["c2"]
    closed = {d["id"]: d for d in engine.store.dead_letters(interface_id=7, status=None)}
    assert closed[c1["id"]]["status"] == "superseded" and f"dead letter {c2['id']}" in closed[c1["id"]]["resolution"]
    assert closed[c2["id"]]["status"] == "replayed"


def test_replay_when_the_newest_version_fails_again_keeps_both_letters_open(make_engine):
    fakes.SOURCES["src"] = fakes.records(2)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s1"})
    engine = make_engine([_iface()])
    engine.run_interface(7)
    fakes.SOURCES["src"].append(fakes.Record(key="s1", data={"id": "s1", "n": 1, "name": "c2"}))
    engine.run_interface(7)
    c1, c2 = DeadLetters(engine).list(interface_id=7)
    results = DeadLetters(engine).replay(interface_id=7)  # still refused
    assert [(r.id, r.status) for r in results] == [(c1["id"], "failed"), (c2["id"], "failed")]
    assert results[0].message == f"kept open: the newest change of this record (dead letter {c2['id']}) failed again"
    assert "rejected by target" in results[1].message
    assert len(DeadLetters(engine).list(interface_id=7)) == 2
    assert [i for i in target.received if i.source_key == "s1"] == []  # c1 was never sent


def test_discard_closes_without_sending(make_engine):
    fakes.SOURCES["src"] = fakes.records(3)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s0"})
    engine = make_engine([_iface()])
    engine.run_interface(7)
    dl = DeadLetters(engine)
    [letter] = dl.list(interface_id=7)
    assert dl.discard([letter["id"]], "duplicate in the source") == 1
    assert dl.list(interface_id=7) == [] and dl.list(interface_id=7, status="discarded")[0]["resolution"] == "duplicate in the source"
    assert len(target.received) == 2


def test_a_planned_interface_cannot_run(make_engine):
    engine = make_engine([_iface(status="planned")])
    with pytest.raises(ConfigError, match="planned"):
        engine.run_interface(7)


def test_replay_re_reads_the_record_from_a_source_that_can(make_engine, tmp_path, monkeypatch):
    # the sis source can re-read: a replay sends the person as the SIS holds them now, not the
    # state stored with the letters (two refused versions, then a third change not yet read)
    import sqlalchemy as sa

    import plugins.sis
    from runtime.sis import schema

    url = f"sqlite:///{tmp_path / 'sis.db'}"
    monkeypatch.setenv("KOPPEL_SIS_URL", url)
    schema.init(url)
    db = sa.create_engine(url)

    def person(name: str, insert: bool = False) -> None:
        with db.begin() as c:
            if insert:
                c.execute(sa.text("INSERT INTO person (person_number, last_name, gender) VALUES ('P1', :n, 'V')"),
                          {"n": name})
            else:
                c.execute(sa.text("UPDATE person SET last_name = :n WHERE person_number = 'P1'"), {"n": name})

    target = fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"P1"})
    reg = fakes.registry({"sis": plugins.sis.plugin})
    engine = make_engine([_iface(objects=["person"], source={"type": "sis", "object": "person", "mode": "outbox"})],
                         registry=reg)
    engine.run_interface(7)  # a first run stores the outbox position
    person("Jansen", insert=True)
    engine.run_interface(7)
    person("de Vries")
    engine.run_interface(7)
    letters = DeadLetters(engine).list(interface_id=7)
    assert [d["record"]["data"]["last_name"] for d in letters] == ["Jansen", "de Vries"]
    person("Bakker")  # not read by a run yet
    target.reject.clear()
    results = DeadLetters(engine).replay(interface_id=7)
    assert [r.status for r in results] == ["superseded", "delivered"]
    assert [i.payload["last_name"] for i in target.received] == ["Bakker"]
    db.dispose()


def test_deadletters_replay_all_replays_every_interface(make_engine, monkeypatch):
    from click.testing import CliRunner

    from runtime.engine import cli

    fakes.SOURCES["src"] = fakes.records(4)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s1", "s3"})
    engine = make_engine([_iface(), {**_iface(), "id": 8}])
    monkeypatch.setattr(cli, "_engine", lambda ctx, only=None: engine)
    monkeypatch.setattr(engine, "close", lambda: None)
    engine.run_interface(7)
    engine.run_interface(8)
    target.reject.clear()
    runner = CliRunner()
    usage = runner.invoke(cli.deadletters, ["replay"], obj={})
    assert usage.exit_code == 2 and "--all" in usage.output
    replayed = runner.invoke(cli.deadletters, ["replay", "--all"], obj={})
    assert replayed.exit_code == 0, replayed.output
    assert replayed.output.count("delivered") == 4 and "replayed 4: 4 resolved, 0 failed again" in replayed.output
    assert DeadLetters(engine).list() == []
