"""Erasure on request: ``koppel state forget --source-key`` removes one person's stored payloads
from Koppel's state (dead letters, inbox and callback bodies, multi-step answers), keeps
everyone else's, and records it in the audit trail; the CLI commands of the state work."""

from __future__ import annotations

import json

import engine_fakes as fakes
from click.testing import CliRunner
from state_helpers import with_keys

from runtime.cli import main
from runtime.engine import Engine, audit
from runtime.engine.state.rekey import forget


def _iface():
    return {"id": 7, "source": {"type": "memory", "name": "src"}, "targets": [{"type": "memtarget", "name": "tgt"}],
            "delivery": {"retries": {"max_attempts": 1, "initial_delay": 0.001, "max_delay": 0.001}}}


def test_forget_removes_one_persons_payloads_and_nothing_else(tmp_path, state_url, key_files):
    from plugins.rest.progress import StepProgress

    fakes.SOURCES["src"] = fakes.records(4)
    fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s1", "s2"})
    reg = fakes.registry()
    engine = Engine(with_keys(fakes.make_project(tmp_path, reg, [_iface()]), key_files, "k1"), reg, "sandbox",
                    state_url=state_url)
    store = engine.store
    try:
        engine.run_interface(7)
        first = store.dead_letters(interface_id=7)[0]
        store.resolve_dead_letter(first["id"], "discarded", "test")  # a closed letter is forgotten too
        store.inbox_add(7, "s1", {"id": "s1"})
        store.inbox_add(7, "s2", {"id": "s2"})
        progress = StepProgress(state_url, 7, "signhost")
        for key in ("s1", "s1:ab12", "s10:cd34", "s2"):
            progress.record(key, 1, {"transaction": key})
        assert forget(store, "s1") == {"koppel_dead_letters": 1, "koppel_inbox": 1, "koppel_step_progress": 2}
        assert [d["source_key"] for d in store.dead_letters(interface_id=7, status=None)] == ["s2"]
        assert [r["key"] for r in store.inbox_after(7, 0, 10)] == ["s2"]
        assert [progress.load(k)[0] for k in ("s1", "s1:ab12", "s10:cd34", "s2")] == [0, 0, 1, 1]
        progress.close()
        assert [s for _, s in store.ledger(7, _lane(store), ["s0"]).values()] == ["delivered"]  # the ledger stays: no double sends
    finally:
        engine.close()


def test_the_state_commands_from_the_command_line(project_copy, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("KOPPEL_STATE_URL", url)
    monkeypatch.setenv("USER", "fg-officer")
    runner = CliRunner()
    base = ["--project", str(project_copy)]

    result = runner.invoke(main, [*base, "state", "forget", "--source-key", "945807302", "--reason", "verzoek AVG art. 17"])
    assert result.exit_code == 0, result.output
    assert result.output == ("forgot source key *****7302: removed koppel_dead_letters 0, koppel_inbox 0, "
                             "koppel_step_progress 0 (recorded in the audit trail)\n")
    from runtime.engine.state import StateStore

    store = StateStore(url)
    entry = audit.entries(store, action="forget")[0]
    store.close()
    assert (entry["actor"], entry["role"], entry["reason"]) == ("fg-officer", "operator", "verzoek AVG art. 17")
    assert "945807302" not in json.dumps(entry, default=str)

    result = runner.invoke(main, [*base, "purge", "--dry-run", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["dry_run"] is True and set(report["removed"]) >= {"deliveries", "lineage"}

    result = runner.invoke(main, [*base, "state", "rekey"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("re-encrypted 0 row(s) under key k1: koppel_dead_letters 0")


def _lane(store) -> str:
    from sqlalchemy import select

    from runtime.engine.state import models as m

    with store.engine.connect() as c:
        return c.execute(select(m.deliveries.c.target).limit(1)).scalar_one()
