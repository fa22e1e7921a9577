"""After a run with rejected records, webhook and callback bodies and a multi-step delivery, no
BSN from the source is in plain text anywhere in the state database (every table, every column),
on SQLite and PostgreSQL; replay, show and the inbox reader still see the real records."""

from __future__ import annotations

import engine_fakes as fakes
import pytest
from state_helpers import scan, with_keys

from runtime.engine import Engine
from runtime.engine.deadletters import DeadLetters
from runtime.engine.state import crypto
from runtime.errors import ConfigError
from runtime.plugin import Record

BSNS = ["945807302", "229262193", "100233077", "465228173", "877901260", "762345937"]


def _records() -> list[Record]:
    return [Record(key=f"s{i}", data={"id": f"s{i}", "bsn": bsn, "name": f"Student {i}"}, object="student")
            for i, bsn in enumerate(BSNS[:4])]


def _iface():
    return {"id": 7, "source": {"type": "memory", "name": "src"}, "targets": [{"type": "memtarget", "name": "tgt"}],
            "delivery": {"batch_size": 10, "retries": {"max_attempts": 2, "initial_delay": 0.001, "max_delay": 0.001}}}


def _engine(tmp_path, url, key_files, *keys):
    reg = fakes.registry()
    project = with_keys(fakes.make_project(tmp_path, reg, [_iface()]), key_files, *keys)
    return Engine(project, reg, "sandbox", state_url=url)


def test_no_bsn_at_rest_and_replay_sends_the_real_records(tmp_path, state_url, key_files):
    from plugins.rest.progress import StepProgress

    fakes.SOURCES["src"] = _records()
    target = fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s1", "s3"}, leak=True)
    engine = _engine(tmp_path, state_url, key_files, "k1")
    try:
        summary = engine.run_interface(7)
        assert (summary.delivered, summary.dead) == (2, 2)
        store = engine.store
        store.inbox_add(7, "s4", {"id": "s4", "bsn": BSNS[4]})
        store.inbox_add_many(7, [("s5", {"id": "s5", "bsn": BSNS[5]}, "upsert", None)], channel="callback:status")
        progress = StepProgress(state_url, 7, "signhost")
        progress.record("s2:abc", 1, {"transaction": "t-1", "answer": {"signer": BSNS[2]}})
        progress.close()

        assert scan(state_url, BSNS) == []

        # every reader opens what it needs
        assert [r["body"] for r in store.inbox_after(7, 0, 10)] == [{"id": "s4", "bsn": BSNS[4]}]
        assert [r["body"] for r in store.inbox_after(7, 0, 10, channel="callback:status")] == [
            {"id": "s5", "bsn": BSNS[5]}]
        again = StepProgress(state_url, 7, "signhost")
        assert again.load("s2:abc") == (1, {"transaction": "t-1", "answer": {"signer": BSNS[2]}})
        again.close()
        letters = store.dead_letters(interface_id=7)
        assert [(d["source_key"], d["record"]["data"]["bsn"]) for d in letters] == [("s1", BSNS[1]), ("s3", BSNS[3])]
        shown = DeadLetters(engine).show(letters[0]["id"])
        assert BSNS[1] not in str(shown) and shown["record"]["data"]["name"] == "Student 1"

        target.reject.clear()
        target.received.clear()
        results = DeadLetters(engine).replay(interface_id=7)
        assert [r.status for r in results] == ["delivered", "delivered"]
        assert [(i.source_key, i.payload["bsn"]) for i in target.received] == [("s1", BSNS[1]), ("s3", BSNS[3])]
        assert scan(state_url, BSNS) == []
    finally:
        engine.close()


def test_a_state_read_without_its_key_is_a_configuration_error_naming_the_key(tmp_path, key_files):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    fakes.SOURCES["src"] = _records()
    fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s0"})
    engine = _engine(tmp_path, url, key_files, "k1")
    try:
        engine.run_interface(7)
        engine.store.inbox_add(7, "s4", {"bsn": BSNS[4]})
        crypto.configure(crypto.Keyring((("k2", crypto.decode_key("k2", key_files["k2"].read_text())),)))
        with pytest.raises(ConfigError, match=r"state key k1 is needed .*keys there: k2"):
            engine.store.dead_letters(interface_id=7)
        with pytest.raises(ConfigError, match=r"state key k1 is needed"):
            engine.store.inbox_after(7, 0, 10)
        crypto.configure(None)
        with pytest.raises(ConfigError, match=r"encrypted under state key k1, but catalog\.yaml has no state\.keys"):
            DeadLetters(engine).replay(interface_id=7)
    finally:
        engine.close()


def test_rows_written_before_encryption_still_read_and_replay(tmp_path, key_files):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    fakes.SOURCES["src"] = _records()
    target = fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"s2"})
    reg = fakes.registry()
    plain = Engine(fakes.make_project(tmp_path, reg, [_iface()]), reg, "sandbox", state_url=url)  # no state.keys
    try:
        plain.run_interface(7)
        plain.store.inbox_add(7, "s4", {"bsn": BSNS[4]})
    finally:
        plain.close()
    # the scan finds plain text where it is: it would see a leak
    assert sorted(scan(url, [BSNS[2], BSNS[4]])) == [("koppel_dead_letters", "payload", BSNS[2]),
                                             ("koppel_dead_letters", "record", BSNS[2]),
                                             ("koppel_inbox", "body", BSNS[4])]
    engine = _engine(tmp_path, url, key_files, "k1")
    try:
        assert engine.store.inbox_after(7, 0, 10)[0]["body"] == {"bsn": BSNS[4]}
        target.reject.clear()
        assert [r.status for r in DeadLetters(engine).replay(interface_id=7)] == ["delivered"]
        assert target.received[-1].payload["bsn"] == BSNS[2]
    finally:
        engine.close()


def test_a_webhook_call_over_http_leaves_no_bsn_at_rest(tmp_path, state_url, key_files, monkeypatch):
    """The partner's call arrives over HTTP, is stored before the 202, then run: its body in the
    inbox and the dead letter of the record the target refuses are both sealed."""
    import hashlib
    import hmac
    import json

    import plugins.webhook
    from starlette.testclient import TestClient

    from runtime.engine.server import create_app

    monkeypatch.setenv("HOOK_SECRET", "s3cr3t-hook-value")
    target = fakes.TARGETS["tgt"] = fakes.Behaviour(reject={"A2"})
    reg = fakes.registry({"webhook": plugins.webhook.plugin})
    project = with_keys(fakes.make_project(tmp_path, reg, [{
        "id": 6, "type": "realtime", "trigger": {"type": "webhook"}, "targets": [{"type": "memtarget", "name": "tgt"}],
        "source": {"type": "webhook", "path": "/hooks/aanmelding", "key": "aanmeldId",
                   "auth": {"type": "hmac", "secret": "${env:HOOK_SECRET}", "prefix": "sha256="}},
        "delivery": {"retries": {"max_attempts": 1, "initial_delay": 0.001, "max_delay": 0.001}}}]), key_files, "k1")
    engine = Engine(project, reg, "sandbox", state_url=state_url)
    try:
        body = json.dumps([{"aanmeldId": "A1", "bsn": BSNS[0]}, {"aanmeldId": "A2", "bsn": BSNS[1]}]).encode()
        sig = "sha256=" + hmac.new(b"s3cr3t-hook-value", body, hashlib.sha256).hexdigest()
        answer = TestClient(create_app(engine)).post("/hooks/aanmelding", content=body, headers={"X-Signature": sig})
        assert (answer.status_code, answer.json()) == (202, {"accepted": 2})
        assert scan(state_url, BSNS[:2]) == []  # stored, sealed, before the 202
        summary = engine.run_interface(6, "webhook")
        assert (summary.read, summary.delivered, summary.dead) == (2, 1, 1)
        assert [(i.source_key, i.payload["bsn"]) for i in target.received] == [("A1", BSNS[0])]
        assert [d["record"]["data"]["bsn"] for d in engine.store.dead_letters(interface_id=6)] == [BSNS[1]]
        assert scan(state_url, BSNS[:2]) == []
    finally:
        engine.close()
