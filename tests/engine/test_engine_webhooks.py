"""Inbound webhooks: authenticated, stored durably before the 2xx, then run through the pipeline."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import engine_fakes as fakes
import pytest
from starlette.testclient import TestClient

from runtime.engine.server import create_app


@pytest.fixture
def webhook_registry():
    import plugins.webhook

    return fakes.registry({"webhook": plugins.webhook.plugin})


def _iface(iid, source):
    return {"id": iid, "type": "realtime", "trigger": {"type": "webhook"}, "source": source,
            "targets": [{"type": "memtarget", "name": "tgt"}]}


def test_a_partners_own_hmac_signed_json_is_stored_then_delivered(make_engine, webhook_registry, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "s3cr3t-hook-value")
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface(6, {"type": "webhook", "path": "/hooks/aanmelding", "key": "aanmeldId",
                                     "auth": {"type": "hmac", "secret": "${env:HOOK_SECRET}", "prefix": "sha256="}})],
                         registry=webhook_registry)
    woken = []
    client = TestClient(create_app(engine, on_received=woken.append))
    body = json.dumps([{"aanmeldId": "A1", "bsn": "111222333"}, {"aanmeldId": "A2"}]).encode()
    sig = "sha256=" + hmac.new(b"s3cr3t-hook-value", body, hashlib.sha256).hexdigest()

    assert client.post("/hooks/aanmelding", content=body, headers={"X-Signature": "sha256=bad"}).status_code == 401
    r = client.post("/hooks/aanmelding", content=body, headers={"X-Signature": sig})
    assert r.status_code == 202 and r.json() == {"accepted": 2}
    assert woken == [6]
    # a captured call sent again byte for byte: answered, not stored a second time
    again = client.post("/hooks/aanmelding", content=body, headers={"X-Signature": sig})
    assert (again.status_code, again.json()) == (200, {"accepted": 0, "repeated": True})
    assert woken == [6]
    # stored before the answer: the rows are in the inbox now
    assert [row["key"] for row in engine.store.inbox_after(6, 0, 10)] == ["A1", "A2"]

    summary = engine.run_interface(6, "webhook")
    assert (summary.read, summary.delivered) == (2, 2)
    assert [i.source_key for i in target.received] == ["A1", "A2"]
    assert engine.run_interface(6, "webhook").read == 0  # the cursor moved past them

    metrics = client.get("/metrics").text
    assert 'koppel_webhook_requests_total{interface="6",status="202"} 1.0' in metrics
    assert "111222333" not in metrics


def test_standard_webhooks_signed_json_is_stored_once_then_delivered(make_engine, webhook_registry, monkeypatch):
    """Koppel's own scheme: webhook-id, webhook-timestamp, webhook-signature (sandbox/rest/webhooks.py
    signs as the stand-ins do). A replay of the captured call is answered 200 and not stored."""
    from sandbox.rest.webhooks import standard_webhook_headers

    key = "whsec_" + base64.b64encode(b"k" * 32).decode()
    monkeypatch.setenv("HOOK_SECRET", key)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface(23, {"type": "webhook", "path": "/hooks/b3net", "key": "matchId",
                                      "auth": {"type": "standard_webhooks", "secret": "${env:HOOK_SECRET}"}})],
                         registry=webhook_registry)
    client = TestClient(create_app(engine))
    body = json.dumps({"matchId": "B3-000001", "studentnummer": "S100001"}).encode()
    headers = {**standard_webhook_headers(key, body, message_id="msg_1"), "Content-Type": "application/json"}

    assert client.post("/hooks/b3net", content=body, headers={"Content-Type": "application/json"}).status_code == 401
    stale = standard_webhook_headers(key, body, message_id="msg_0", timestamp=time.time() - 600)
    assert client.post("/hooks/b3net", content=body, headers=stale).status_code == 401
    first = client.post("/hooks/b3net", content=body, headers=headers)
    assert (first.status_code, first.json()) == (202, {"accepted": 1})
    again = client.post("/hooks/b3net", content=body, headers=headers)
    assert (again.status_code, again.json()) == (200, {"accepted": 0, "repeated": True})
    assert [row["key"] for row in engine.store.inbox_after(23, 0, 10)] == ["B3-000001"]
    other = {**standard_webhook_headers(key, body, message_id="msg_2"), "Content-Type": "application/json"}
    assert client.post("/hooks/b3net", content=body, headers=other).status_code == 202  # a new message id

    summary = engine.run_interface(23, "webhook")
    assert (summary.read, summary.delivered, summary.skipped) == (2, 1, 1)  # the same content once
    assert [i.source_key for i in target.received] == ["B3-000001"]
    metrics = client.get("/metrics").text
    assert 'koppel_webhook_requests_total{interface="23",status="200"} 1.0' in metrics
    assert 'koppel_webhook_requests_total{interface="23",status="401"} 2.0' in metrics


def test_a_scim_delete_is_read_as_an_upsert_of_the_closed_account(make_engine, webhook_registry, monkeypatch):
    """The webhook source never turns a SCIM call into a delete: a DELETE /Users/{id} is stored as the
    User with active false (runtime/engine/inbound/scim.py) and the mappings close the account."""
    from runtime.engine.inbound.replay import store_once

    fakes.TARGETS["tgt"] = target = fakes.Behaviour()
    monkeypatch.setenv("SCIM_TOKEN", "scim-token-123456")
    engine = make_engine([_iface(3, {"type": "webhook", "path": "/scim/v2", "style": "scim", "resource": "User",
                                     "key": "externalId", "auth": {"type": "bearer", "token": "${env:SCIM_TOKEN}"}})],
                         registry=webhook_registry)
    closed = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "externalId": "P1", "active": False, "id": "P1"}
    assert store_once(engine.store, 3, [("P1", closed, "delete", "User")], message_id=None)
    engine.run_interface(3, "webhook")
    assert [(i.source_key, i.operation) for i in target.received] == [("P1", "upsert")]


def test_health_and_readiness(make_engine):
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([{"id": 1, "source": {"type": "memory", "name": "x"}, "targets": [{"type": "memtarget", "name": "tgt"}]}])
    from runtime.engine.server import DaemonState

    state = DaemonState()
    client = TestClient(create_app(engine, state=state))
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    state.draining = True
    assert client.get("/readyz").status_code == 503
