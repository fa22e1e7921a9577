"""A full batch and a dry-run: no BSN and no secret value in the logs or the output."""

from __future__ import annotations

import logging

import engine_fakes as fakes

import runtime.engine.cli as cli
from runtime import secrets
from runtime.plugin import Record

BSN = "111222333"  # passes the elfproef
SECRET = "hunter2-very-secret"


def test_batch_and_dry_run_show_no_bsn_and_no_secret(make_engine, monkeypatch, cli_on, json_logs):
    monkeypatch.setenv("PEER_TOKEN", SECRET)
    assert secrets.resolve("${env:PEER_TOKEN}") == SECRET  # registers it for masking, like a plugin does
    fakes.SOURCES["src"] = [Record(key=f"k{i}", data={"id": f"k{i}", "bsn": BSN, "token": SECRET}) for i in range(20)]
    fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"k3"}, leak=True)
    engine = make_engine([{"id": 2, "source": {"type": "memory", "name": "src"},
                           "targets": [{"type": "memtarget", "name": "tgt"}]}])
    runner, logs = cli_on(engine), json_logs
    logging.getLogger("koppel.test").info("peer answered %s for %s", SECRET, BSN)
    dry = runner.invoke(cli.dry_run, ["2"], obj={})
    run = runner.invoke(cli.run, ["2"], obj={})
    dl = runner.invoke(cli.deadletters, ["list"], obj={})
    show = runner.invoke(cli.deadletters, ["show", "1"], obj={})
    runs = runner.invoke(cli.runs, [], obj={})
    assert dry.exit_code == 0, dry.output
    assert "[send] memtarget  k0" in dry.output and "*****2333" in dry.output
    assert run.exit_code == 3 and "dead 1" in run.output  # partial: one dead letter
    assert "rejected by target" in dl.output and "*****2333" in show.output
    everything = dry.output + run.output + dl.output + show.output + runs.output + logs.getvalue()
    assert "dead letter" in logs.getvalue()
    assert BSN not in everything
    assert SECRET not in everything
    # ...while the stored record keeps the real values, so a replay sends what was read
    assert engine.store.dead_letter(1)["record"]["data"]["bsn"] == BSN


def test_deadletters_cli_filters_replay_and_discard(make_engine, cli_on):
    fakes.SOURCES["src"] = fakes.records(10)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s1", "s2"})
    engine = make_engine([{"id": 2, "source": {"type": "memory", "name": "src"},
                           "targets": [{"type": "memtarget", "name": "tgt"}]}])
    runner = cli_on(engine)
    assert runner.invoke(cli.run, ["2"], obj={}).exit_code == 3  # finished with dead letters
    listed = runner.invoke(cli.deadletters, ["list", "--interface", "2", "--since", "1h", "--error-class", "record"], obj={})
    assert "2 dead letter(s)" in listed.output
    assert "0 dead letter(s)" in runner.invoke(cli.deadletters, ["list", "--error-class", "transient"], obj={}).output
    assert runner.invoke(cli.deadletters, ["replay"], obj={}).exit_code != 0  # ids or a filter, never everything by accident
    discarded = runner.invoke(cli.deadletters, ["discard", "1", "--reason", "test"], obj={})
    assert "discarded 1" in discarded.output
    target.reject.clear()
    replayed = runner.invoke(cli.deadletters, ["replay", "--interface", "2"], obj={})
    assert replayed.exit_code == 0 and "2  delivered" in replayed.output
    assert [i.source_key for i in target.received][-1] == "s2" and "s1" not in [i.source_key for i in target.received]
    history = runner.invoke(cli.runs, ["--interface", "2"], obj={}).output
    assert "replay" in history and "manual" in history
