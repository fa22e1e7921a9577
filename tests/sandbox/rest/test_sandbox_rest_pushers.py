"""What the stand-ins send to Koppel: IAM's SCIM Users and Groups, B3Net's BPV matches and the
aanmeldmodule's applications, signed the way Koppel's webhook server checks them."""

from __future__ import annotations

from standin_helpers import PROJECT, client, control, secret

from runtime.redact import elfproef
from sandbox.rest import scim
from sandbox.rest.aanmeldmodule import push_applications


def test_iam_pushes_users_then_groups_with_the_bearer_token(sandbox, koppel):
    before = len(koppel.calls)
    r = client.post(control(sandbox, "iam") + "/_sandbox/push", json={"users": 3, "start": 0})
    assert r.status_code == 200
    report = r.json()
    assert [u["status"] for u in report["Users"]] == [201, 201, 201]
    assert all(g["status"] == 201 and "errors" not in g for g in report["Groups"])
    calls = koppel.calls[before:]
    # each resource: a search by externalId first (GET), then the create (POST)
    assert [(c["method"], c["path"]) for c in calls] == [("GET", "/scim/v2/Users"), ("POST", "/scim/v2/Users")] * 3 + [
        ("GET", "/scim/v2/Groups"), ("POST", "/scim/v2/Groups")] * 2
    assert calls[0]["headers"]["authorization"] == "Bearer " + secret("iam-scim-token")
    calls = [c for c in calls if c["method"] == "POST"]
    assert all(c["headers"]["authorization"] == "Bearer " + secret("iam-scim-token") for c in calls)
    assert all(c["headers"]["content-type"] == "application/scim+json" for c in calls)
    user = calls[0]["json"]
    assert user["userName"] == "s100001" and user["externalId"] == "P100001"
    assert user["emails"][0]["value"] == "s100001@student.kw1c.nl"
    students = calls[3]["json"]
    assert students["externalId"] == "student" and len(students["members"]) == 3


def test_iam_resources_follow_the_scim_schemas(sandbox, koppel):
    scim_dir = sandbox.context("iam").contract("scim2")
    if scim_dir is None:
        import pytest

        pytest.skip("../shared/specs/scim2 is absent: the SCIM schema check needs RFC 7643's schema files")
    before = len(koppel.calls)
    client.post(control(sandbox, "iam") + "/_sandbox/push", json={"users": 2, "start": 10})
    for call in [c for c in koppel.calls[before:] if c["method"] != "GET"]:
        core = scim.USER if call["path"].endswith("/Users") else scim.GROUP
        assert scim.errors(scim_dir, call["json"], core) == []
    assert scim.errors(scim_dir, {"schemas": [scim.USER], "emails": "x"}, scim.USER) == [
        "userName: required", "emails: multi-valued, must be a list"]


def test_iam_updates_known_users_with_put(sandbox, koppel):
    client.post(control(sandbox, "iam") + "/_sandbox/push", json={"users": 1, "start": 20, "groups": False})
    before = len(koppel.calls)
    report = client.post(control(sandbox, "iam") + "/_sandbox/push",
                         json={"users": 1, "start": 20, "groups": False}).json()
    assert report["Users"][0]["method"] == "PUT"
    assert [(c["method"], c["path"]) for c in koppel.calls[before:]] == [("GET", "/scim/v2/Users"),
                                                                          ("PUT", "/scim/v2/Users/P100021")]


def verified(name: str, call: dict) -> bool:
    """The call verifies with Standard Webhooks (the library Koppel's server uses)."""
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    try:
        Webhook(secret(name)).verify(call["raw"], call["headers"], json_parse=False)
    except WebhookVerificationError:
        return False
    return True


def test_b3net_posts_matches_signed_with_standard_webhooks(sandbox, koppel):
    report = client.post(control(sandbox, "b3net") + "/_sandbox/push", json={"count": 2}).json()
    assert [m["status"] for m in report["sent"]] == [200, 200]
    calls = [c for c in koppel.calls if c["path"] == "/hooks/b3net"][-2:]
    assert calls[0]["headers"]["webhook-id"] != calls[1]["headers"]["webhook-id"]
    for call in calls:
        assert verified("b3net-webhook-secret", call)
        assert call["headers"]["webhook-signature"].startswith("v1,")
        match = call["json"]
        assert match["event"] == "bpv.match" and match["enrollmentId"] == match["studentnummer"] + "-1"
        assert len(match["leerbedrijf"]["sbbCode"]) == 9


def test_aanmeldmodule_posts_signed_applications(koppel):
    results = push_applications(PROJECT, count=2, koppel_url=koppel.url)
    assert [r["status"] for r in results] == [200, 200]
    calls = [c for c in koppel.calls if c["path"] == "/hooks/aanmeldmodule"][-2:]
    for call, result in zip(calls, results):
        assert verified("aanmeldmodule-webhook-secret", call)
        assert call["json"]["aanmeldId"] == result["aanmeldId"] and call["json"]["kanaal"] == "aanmeldmodule"
        assert elfproef(call["json"]["persoon"]["bsn"])


def test_aanmeldmodule_reports_an_unreachable_koppel():
    results = push_applications(PROJECT, count=1, koppel_url="http://127.0.0.1:9", timeout=1)
    assert results[0]["status"] is None and results[0]["error"] == "ConnectError"


def test_pushers_can_send_forged_and_repeated_deliveries(sandbox, koppel):
    report = client.post(control(sandbox, "b3net") + "/_sandbox/push",
                         json={"count": 1, "start": 40, "tamper": True, "repeat": 2}).json()
    assert [m["matchId"] for m in report["sent"]] == ["B3-000041", "B3-000041"]
    first, second = [c for c in koppel.calls if c["path"] == "/hooks/b3net"][-2:]
    assert not verified("b3net-webhook-secret", second)
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]  # a repeat is the same message
    results = push_applications(PROJECT, count=1, start=7, koppel_url=koppel.url, tamper=True, repeat=2)
    assert len(results) == 2 and results[0]["aanmeldId"] == results[1]["aanmeldId"]
    first, second = [c for c in koppel.calls if c["path"] == "/hooks/aanmeldmodule"][-2:]
    assert not verified("aanmeldmodule-webhook-secret", second)
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]


def test_iam_can_send_a_user_koppel_must_refuse(sandbox, koppel):
    report = client.post(control(sandbox, "iam") + "/_sandbox/push",
                         json={"users": 1, "start": 30, "groups": False, "invalid": True}).json()
    assert len(report["Users"]) == 2
    assert "userName" not in koppel.calls[-1]["json"]
