"""What an operator does from the command line is in the audit trail, as from the console:
``koppel run``, ``koppel deadletters replay`` and ``discard``, and a ``koppel dry-run`` of an
interface that carries a BSN, each with who ($USER or --actor), why (--reason, masked) and how
it ended."""

from __future__ import annotations

import engine_fakes as fakes
from click.testing import CliRunner

from runtime.engine import audit, cli
from runtime.engine.deadletters import DeadLetters
from runtime.models.catalog import BsnBasis


def _iface(iid: int = 7, **extra):
    return {"id": iid, "source": {"type": "memory", "name": "src"}, "targets": [{"type": "memtarget", "name": "tgt"}],
            "delivery": {"batch_size": 10, "retries": {"max_attempts": 1, "initial_delay": 0.001, "max_delay": 0.001}},
            **extra}


def _cli(engine, monkeypatch):
    monkeypatch.setattr(cli, "_engine", lambda ctx, only=None: engine)
    monkeypatch.setattr(cli, "_replay_scope", lambda ctx, ids, interface: None)
    monkeypatch.setattr(engine, "close", lambda: None)
    runner = CliRunner()
    return lambda command, *args, env=None: runner.invoke(command, list(args), obj={}, env=env or {"USER": "anne"})


def _trail(engine):
    return [(e["actor"], e["role"], e["action"], e["interface_id"], e["subject"], e["reason"], e["outcome"])
            for e in reversed(audit.entries(engine.store))]


def test_run_replay_and_discard_from_the_command_line_are_recorded(make_engine, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(4)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s1", "s3"})
    engine = make_engine([_iface(), _iface(8)])
    koppel = _cli(engine, monkeypatch)

    ran = koppel(cli.run, "7", "--reason", "student 111222333 asked")
    assert ran.exit_code == 3, ran.output  # dead letters: the exit code says so
    run_id = engine.store.list_runs(7)[0]["id"]
    first = _trail(engine)
    assert len(first) == 1
    actor, role, action, iid, subject, reason, outcome = first[0]
    assert (actor, role, action, iid) == ("anne", "cli", "run", 7)
    assert subject == f"run {run_id}"
    assert reason == "student *****2333 asked"  # a BSN typed into a reason is not kept
    assert outcome == "partial: read 4, delivered 2, dead 2 (2 record(s) went to the dead letters)"

    letters = sorted(d["id"] for d in DeadLetters(engine).list(interface_id=7))
    target.reject.clear()
    replayed = koppel(cli.deadletters, "replay", str(letters[0]), "--reason", "mapping fixed", "--actor", "bram")
    assert replayed.exit_code == 0, replayed.output
    discarded = koppel(cli.deadletters, "discard", str(letters[1]), "--reason", "duplicate application")
    assert discarded.exit_code == 0, discarded.output
    assert _trail(engine)[1:] == [
        ("bram", "cli", "replay", 7, f"dead letter(s) {letters[0]}", "mapping fixed", "1 delivered"),
        ("anne", "cli", "discard", 7, f"dead letter(s) {letters[1]}", "duplicate application", "1 discarded")]
    assert target.received[-1].key.split(":")[0] == "s1"  # the replay did send the record


def test_a_failed_run_is_recorded_before_its_error_is_shown(make_engine, monkeypatch):
    from runtime.errors import ConfigError

    fakes.SOURCES["src"] = fakes.records(2)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface()])
    koppel = _cli(engine, monkeypatch)

    def broken(*args, **kwargs):
        raise ConfigError("the target's certificate file is missing")

    monkeypatch.setattr(engine, "run_interface", broken)
    failed = koppel(cli.run, "7")
    assert failed.exit_code != 0
    assert _trail(engine) == [("anne", "cli", "run", 7, None, None,
                               "failed: the target's certificate file is missing")]


def test_a_dry_run_is_recorded_only_where_the_interface_carries_a_bsn(make_engine, monkeypatch):
    fakes.SOURCES["src"] = fakes.records(3)
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface(targets=[{"type": "memtarget", "name": "tgt", "system": "duo"}]),
                          _iface(8, targets=[{"type": "memtarget", "name": "tgt", "system": "crm"}])],
                         systems={"duo": {"url": "http://127.0.0.1:1"}, "crm": {"url": "http://127.0.0.1:1"}})
    engine.project.catalog.systems["duo"].bsn_legal_basis = BsnBasis(law="Leerplichtwet 1969, art. 21a")
    koppel = _cli(engine, monkeypatch)

    looked = koppel(cli.dry_run, "7", "--limit", "2", "--reason", "checking the new mapping")
    assert looked.exit_code == 0, looked.output
    assert koppel(cli.dry_run, "8").exit_code == 0
    assert _trail(engine) == [("anne", "cli", "dry-run", 7, "up to 2 record(s)", "checking the new mapping",
                               "2 item(s) shown")]
    assert fakes.TARGETS["tgt"].received == []  # a dry-run sends nothing
