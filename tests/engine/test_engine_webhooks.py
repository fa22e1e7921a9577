"""Inbound webhooks: authenticated, stored durably before the 2xx, then run through the pipeline."""

from __future__ import annotations

import hashlib
import hmac
import json

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


def test_hmac_signed_json_is_stored_then_delivered(make_engine, webhook_registry, monkeypatch):
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
    # stored before the answer: the rows are in the inbox now
    assert [row["key"] for row in engine.store.inbox_after(6, 0, 10)] == ["A1", "A2"]

    summary = engine.run_interface(6, "webhook")
    assert (summary.read, summary.delivered) == (2, 2)
    assert [i.source_key for i in target.received] == ["A1", "A2"]
    assert engine.run_interface(6, "webhook").read == 0  # the cursor moved past them

    metrics = client.get("/metrics").text
    assert 'koppel_webhook_requests_total{interface="6",status="202"} 1.0' in metrics
    assert "111222333" not in metrics


def test_scim_users_create_replace_patch_delete(make_engine, webhook_registry, monkeypatch):
    monkeypatch.setenv("SCIM_TOKEN", "scim-token-123456")
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface(3, {"type": "webhook", "path": "/scim/v2", "style": "scim", "resource": "User",
                                     "key": "externalId", "auth": {"type": "bearer", "token": "${env:SCIM_TOKEN}"}})],
                         registry=webhook_registry)
    client = TestClient(create_app(engine))
    auth = {"Authorization": "Bearer scim-token-123456"}
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "externalId": "st123", "userName": "jan"}
    assert client.post("/scim/v2/Users", json=user).status_code == 401
    r = client.post("/scim/v2/Users", json=user, headers=auth)
    assert r.status_code == 201 and r.json()["id"] == "st123"
    assert r.headers["content-type"].startswith("application/scim+json")
    assert client.put("/scim/v2/Users/st123", json={**user, "userName": "jan.b"}, headers=auth).status_code == 200
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "path": "emails", "value": [{"value": "j@x.nl"}]}]}
    assert client.patch("/scim/v2/Users/st123", json=patch, headers=auth).status_code == 200
    assert client.delete("/scim/v2/Users/st123", headers=auth).status_code == 204
    assert client.get("/scim/v2/Users?filter=userName eq \"jan\"", headers=auth).json()["totalResults"] == 0

    engine.run_interface(3, "webhook")
    ops = [(i.source_key, i.operation) for i in target.received]
    assert ops == [("st123", "upsert")] * 3 + [("st123", "delete")]


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
