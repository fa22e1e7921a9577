"""Callbacks: Signhost's postbacks about the documents interface 14 delivered, received on Koppel's
server (SHA-1 checksum), stored before the 2xx, and drained into a real SIS store."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import engine_fakes as fakes
import pytest
from starlette.testclient import TestClient

from runtime.engine.server import create_app

ROOT = Path(__file__).resolve().parents[2]
SECRET = "postback-secret-for-tests"
TX = "b10ae331-af78-4e79-a39e-5b64693b6b68"
CHANNEL = "callback:signhost"


def checksum(transaction_id: str, status: int, secret: str = SECRET) -> str:
    return hashlib.sha1(f"{transaction_id}||{status}|{secret}".encode()).hexdigest()


def postback(transaction_id: str = TX, status: int = 30, *, secret: str = SECRET) -> tuple[bytes, dict]:
    """A postback as Signhost sends it to the global URL: Transaction JSON + Checksum, and the header."""
    value = checksum(transaction_id, status, secret)
    body = {"Id": transaction_id, "Status": status, "Reference": "DOC900001", "Checksum": value,
            "Signers": [{"Id": "fa95495d-6c59-48e0-962a-a4552f8d6b85", "Email": "jan@example.nl",
                         "SignedDateTime": "2026-11-28T14:02:11.5+01:00" if status == 30 else None}]}
    return json.dumps(body).encode(), {"Checksum": value, "Content-Type": "application/json"}


@pytest.fixture
def sis(tmp_path, monkeypatch):
    """A real SIS store with two documents sent for signing; returns a query function."""
    import sqlalchemy as sa

    from runtime.sis import schema

    url = f"sqlite:///{tmp_path / 'sis.db'}"
    monkeypatch.setenv("KOPPEL_SIS_URL", url)
    schema.init(url)
    db = sa.create_engine(url)
    with db.begin() as c:
        for doc, tx in (("DOC900001", TX), ("DOC900002", "7c1e7c56-3b1f-4d8e-9a55-0c2f9d7b1e10")):
            c.execute(sa.text("INSERT INTO document (document_id, kind, title, status, signing_status, file_name, "
                              "sign_transaction_id) VALUES (:d, 'onderwijsovereenkomst', 'Onderwijsovereenkomst', "
                              "'concept', 'verstuurd', :f, :t)"), {"d": doc, "f": f"{doc}.pdf", "t": tx})

    def query(statement: str, **params) -> list:
        with db.begin() as c:
            result = c.execute(sa.text(statement), params)
            return list(result) if result.returns_rows else []

    yield query
    db.dispose()


@pytest.fixture
def engine(make_engine, tmp_path, sis, monkeypatch):
    import plugins.sis
    import plugins.webhook

    for name in ("signhost-postback.yaml", "valuemaps/signhost-ondertekenstatus.yaml"):
        (tmp_path / "mappings" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "mappings" / name, tmp_path / "mappings" / name)
    monkeypatch.setenv("SIGNHOST_POSTBACK_SECRET", SECRET)
    fakes.SOURCES["docs"] = fakes.records(2, "DOC")
    fakes.TARGETS["signhost"] = fakes.Behaviour()
    registry = fakes.registry({"webhook": plugins.webhook.plugin, "sis": plugins.sis.plugin})
    interface = {
        "id": 14, "trigger": {"type": "cron", "cron": "*/30 7-18 * * 1-5"},
        "source": {"type": "memory", "name": "docs"},
        "targets": [{"type": "memtarget", "name": "signhost"}],
        "callbacks": [{"name": "signhost", "mapping": "signhost-postback",
                       "source": {"type": "webhook", "system": "signhost", "path": "/hooks/signhost", "key": "Id"},
                       "target": {"type": "sis", "object": "document", "operation": "update",
                                  "key": ["sign_transaction_id"]}}],
    }
    systems = {"signhost": {"url": "http://127.0.0.1:1/api", "inbound_auth": {
        "type": "signhost_checksum", "secret": "${env:SIGNHOST_POSTBACK_SECRET}"}}}
    return make_engine([interface], registry=registry, systems=systems)


def stored(engine) -> list[dict]:
    return engine.store.inbox_after(14, 0, 100, channel=CHANNEL) + engine.store.inbox_after(14, 0, 100)


def document(sis, doc: str = "DOC900001") -> tuple:
    return tuple(sis("SELECT signing_status, status, signed_at FROM document WHERE document_id = :d", d=doc)[0])


def test_a_forged_checksum_is_refused_and_nothing_is_stored(engine, sis):
    woken = []
    client = TestClient(create_app(engine, on_received=woken.append))
    body, headers = postback(secret="not-the-secret")
    assert client.post("/hooks/signhost", content=body, headers=headers).status_code == 401
    good_body, good_headers = postback()
    # a right checksum in the body does not excuse a wrong header, nor the other way round
    assert client.post("/hooks/signhost", content=good_body, headers=headers).status_code == 401
    assert client.post("/hooks/signhost", content=body, headers=good_headers).status_code == 401
    # the checksum covers Id and Status: another status under the same checksum is refused
    tampered = json.dumps({**json.loads(good_body), "Status": 40}).encode()
    assert client.post("/hooks/signhost", content=tampered, headers={"Content-Type": "application/json"}).status_code == 401
    # no checksum at all
    bare = json.dumps({"Id": TX, "Status": 30}).encode()
    assert client.post("/hooks/signhost", content=bare).status_code == 401
    assert stored(engine) == [] and woken == []
    assert engine.run_interface(14, "webhook").read == 0
    assert document(sis)[0] == "verstuurd"


def test_a_valid_postback_is_stored_before_the_answer_and_drained_into_the_sis(engine, sis):
    woken = []
    client = TestClient(create_app(engine, on_received=woken.append))
    body, headers = postback(status=30)
    response = client.post("/hooks/signhost", content=body, headers=headers)
    assert response.status_code == 202 and woken == [14]
    [row] = stored(engine)  # in the durable inbox by the time Signhost has its 2xx
    assert row["key"] == TX and row["channel"] == CHANNEL
    assert document(sis)[0] == "verstuurd"  # nothing applied yet

    summary = engine.run_interface(14, "webhook")
    assert (summary.outcome, summary.read, summary.delivered, summary.dead) == ("ok", 1, 1, 0)
    assert fakes.TARGETS["signhost"].received == []  # a webhook run drains only the callbacks
    signing_status, status, signed_at = document(sis)
    assert (signing_status, status) == ("ondertekend", "concept")  # final is the SIS's call, with the signed PDF
    assert str(signed_at).startswith("2026-11-28 13:02:11")
    assert document(sis, "DOC900002")[0] == "verstuurd"
    assert engine.run_interface(14, "webhook").read == 0  # the cursor moved past it


def test_a_repeated_postback_is_harmless_and_a_late_waiting_status_changes_nothing(engine, sis):
    client = TestClient(create_app(engine))
    body, headers = postback(status=30)
    assert client.post("/hooks/signhost", content=body, headers=headers).status_code == 202
    assert engine.run_interface(14, "webhook").delivered == 1
    before = sis("SELECT updated_at FROM document WHERE document_id = 'DOC900001'")
    # Signhost delivers at least once, and may repeat an older status. The exact repeat is
    # answered 200 and not stored again (runtime/engine/inbound/replay.py); the older status is
    # stored and filtered by the mapping.
    for status, answered in ((30, 200), (10, 202)):
        body, headers = postback(status=status)
        assert client.post("/hooks/signhost", content=body, headers=headers).status_code == answered
    summary = engine.run_interface(14, "webhook")
    assert (summary.read, summary.delivered, summary.skipped, summary.filtered, summary.dead) == (1, 0, 0, 1, 0)
    assert document(sis)[:2] == ("ondertekend", "concept")
    assert sis("SELECT updated_at FROM document WHERE document_id = 'DOC900001'") == before


def test_a_batch_run_delivers_first_then_drains_the_callbacks(engine, sis):
    client = TestClient(create_app(engine))
    body, headers = postback("7c1e7c56-3b1f-4d8e-9a55-0c2f9d7b1e10", 40)
    assert client.post("/hooks/signhost", content=body, headers=headers).status_code == 202
    summary = engine.run_interface(14, "manual")
    assert (summary.read, summary.delivered) == (3, 3)  # two documents sent, one postback applied
    assert len(fakes.TARGETS["signhost"].received) == 2
    assert document(sis, "DOC900002")[:2] == ("geweigerd", "concept")


def test_a_postback_for_an_unknown_transaction_is_a_dead_letter_that_can_be_replayed(engine, sis):
    from runtime.engine.deadletters import DeadLetters

    client = TestClient(create_app(engine))
    unknown = "0b7d3c1e-5a2f-4e8b-9c6d-1f2e3a4b5c6d"
    body, headers = postback(unknown, 30)
    assert client.post("/hooks/signhost", content=body, headers=headers).status_code == 202
    summary = engine.run_interface(14, "webhook")
    assert (summary.outcome, summary.dead) == ("partial", 1)
    [letter] = engine.store.dead_letters(interface_id=14)
    assert letter["target"] == CHANNEL and "no document with this key" in letter["reason"]

    sis("UPDATE document SET sign_transaction_id = :t WHERE document_id = 'DOC900002'", t=unknown)
    assert [r.status for r in DeadLetters(engine).replay(interface_id=14)] == ["delivered"]
    assert document(sis, "DOC900002")[0] == "ondertekend"


def test_the_portal_s_empty_test_call_is_answered_and_not_stored(engine):
    client = TestClient(create_app(engine))
    assert client.post("/hooks/signhost", content=b"").status_code == 200
    assert stored(engine) == []


def test_the_daemon_s_callback_loop_drains_as_soon_as_a_postback_is_stored(engine, sis):
    from runtime.engine.realtime import Realtime

    realtime = Realtime(engine)
    assert realtime.start() == [14]  # a cron interface with callbacks gets a callback loop
    try:
        client = TestClient(create_app(engine, on_received=realtime.wake))
        body, headers = postback(status=30)
        assert client.post("/hooks/signhost", content=body, headers=headers).status_code == 202
        deadline = time.monotonic() + 10
        while document(sis)[0] != "ondertekend" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert document(sis)[0] == "ondertekend"
        assert fakes.TARGETS["signhost"].received == []  # the loop does not run the cron delivery
    finally:
        realtime.stop(timeout=10)


def test_validate_checks_callbacks(tmp_path):
    from runtime.project import load_project

    for name in ("catalog.yaml", "interfaces", "mappings", "contracts"):
        src, dst = ROOT / name, tmp_path / name
        shutil.copytree(src, dst) if src.is_dir() else shutil.copy(src, dst)
    path = tmp_path / "interfaces" / "14-signhost.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("mapping: signhost-postback", "mapping: signhost-postbak")
                    .replace("key: [sign_transaction_id]", "key: [transaction]")
                    .replace("path: /hooks/signhost", "path: /hooks/b3net"), encoding="utf-8")
    messages = [f"{d.path}: {d.message}" for d in load_project(tmp_path).diagnostics]
    assert any(m.startswith("callbacks[0].mapping: mapping file mappings/signhost-postbak.yaml not found") for m in messages)
    assert any(m.startswith("callbacks[0].target.key[0]:") and "transaction" in m for m in messages)
    assert any("path /hooks/b3net is already served" in m for m in messages)

    path.write_text(text.replace("system: signhost, path", "system: vva, path"), encoding="utf-8")
    messages = [f"{d.path}: {d.message}" for d in load_project(tmp_path).diagnostics]
    assert messages == ["callbacks[0].source.system: system 'vva' is not among the catalog row's target_systems ['signhost']"]
