"""Signhost: the real API's flow (create, upload PDF, start), postbacks with a checksum that
verifies, and refusals the way Signhost refuses."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from standin_helpers import client, secret, signhost_headers, specs_present

from sandbox.rest import synthetic, webhooks

PDF = synthetic.tiny_pdf("Onderwijsovereenkomst S100001")


ADULT_OOK = {"documentKind": "onderwijsovereenkomst", "studentIsMinor": False}


def signer(email: str, role: str = "student", **extra) -> dict:
    return {"Email": email, "SendSignRequest": True, "Context": {"role": role}, **extra}


def post_transaction(box, **extra):
    body = {"Seal": False, "Reference": "DOC900001", "SendEmailNotifications": False, "Context": ADULT_OOK,
            "Signers": [signer("s100001@student.kw1c.nl")], **extra}
    return client.post(box.url("signhost") + "/transaction", json=body, headers=signhost_headers())


def create(box, **extra) -> dict:
    r = post_transaction(box, **extra)
    assert r.status_code == 200, r.text
    return r.json()


def upload(box, tid: str, data: bytes = PDF, **headers):
    return client.put(f"{box.url('signhost')}/transaction/{tid}/file/ook.pdf", content=data,
                      headers={**signhost_headers(), "Content-Type": "application/pdf", **headers})


def test_checksum_matches_signhosts_published_test_vector():
    assert webhooks.signhost_checksum("b10ae331-af78-4e79-a39e-5b64693b6b68", 20, "SharedSecret") == \
        "cdc09eee2ed6df2846dcc193aedfef59f2834f8d"


def test_checksum_matches_the_official_clients_fixture(sandbox):
    specs_present(sandbox, "signhost/fixtures/Responses/MockPostbackValid.json")
    fixture = json.loads(sandbox.context("signhost").contract(
        "signhost/fixtures/Responses/MockPostbackValid.json").read_text())
    assert webhooks.signhost_checksum(fixture["Id"], fixture["Status"], "SharedSecret") == fixture["Checksum"]


def test_signing_flow_sends_postbacks_whose_checksum_verifies(sandbox, koppel):
    transaction = create(sandbox)
    tid = transaction["Id"]
    assert transaction["Status"] == 5 and transaction["Signers"][0]["SignUrl"]
    digest = "SHA-256=" + base64.b64encode(hashlib.sha256(PDF).digest()).decode()
    assert upload(sandbox, tid, Digest=digest).status_code == 201
    assert upload(sandbox, tid).status_code == 200  # replaced
    assert client.put(f"{sandbox.url('signhost')}/transaction/{tid}/start", headers=signhost_headers()).status_code == 204

    signed = koppel.wait_for(lambda c: c["path"] == "/hooks/signhost" and c["json"]["Id"] == tid
                             and c["json"]["Status"] == 30)[0]
    postback_secret = secret("signhost-postback-secret")
    assert signed["json"]["Checksum"] == hashlib.sha1(f"{tid}||30|{postback_secret}".encode()).hexdigest()
    assert signed["headers"]["checksum"] == signed["json"]["Checksum"]
    statuses = [c["json"]["Status"] for c in koppel.calls if c["path"] == "/hooks/signhost" and c["json"]["Id"] == tid]
    assert statuses == [10, 30]  # one at a time, in order
    assert any(a["Code"] == 203 for a in signed["json"]["Signers"][0]["Activities"])

    got = client.get(f"{sandbox.url('signhost')}/transaction/{tid}", headers=signhost_headers()).json()
    assert got["Status"] == 30
    pdf = client.get(f"{sandbox.url('signhost')}/transaction/{tid}/file/ook.pdf", headers=signhost_headers())
    assert pdf.content.startswith(PDF) and b"signed by student" in pdf.content[len(PDF):]
    receipt = client.get(f"{sandbox.url('signhost')}/file/receipt/{tid}", headers=signhost_headers())
    assert receipt.status_code == 200 and receipt.headers["content-type"] == "application/pdf"
    assert receipt.content.startswith(b"%PDF-1.4") and tid.encode() in receipt.content


@pytest.mark.parametrize("context, signers, refusal", [
    # today's shape: one signer, no document kind
    (None, [signer("s@x.nl")], "Context.documentKind"),
    ({"documentKind": "onderwijsovereenkomst", "studentIsMinor": True}, [signer("s@x.nl")],
     "onderwijsovereenkomst of a minor must also be signed by the wettelijk_vertegenwoordiger"),
    ({"documentKind": "bpvo", "studentIsMinor": False}, [signer("s@x.nl"), signer("b@x.nl", "leerbedrijf")],
     "bpvo must also be signed by the school"),
    ({"documentKind": "bpvo", "studentIsMinor": True},
     [signer("s@x.nl"), signer("b@x.nl", "leerbedrijf"), signer("c@x.nl", "school")],
     "bpvo of a minor must also be signed by the wettelijk_vertegenwoordiger"),
    ({"documentKind": "onderwijsovereenkomst", "studentIsMinor": True},
     [signer("p@x.nl", "wettelijk_vertegenwoordiger"), signer("s@x.nl")], "the student signs first"),
])
def test_the_signing_policy_refuses_missing_signers(sandbox, context, signers, refusal):
    r = post_transaction(sandbox, Context=context, Signers=signers) if context else \
        client.post(sandbox.url("signhost") + "/transaction", json={"Seal": False, "Signers": signers},
                    headers=signhost_headers())
    assert r.status_code == 400
    assert refusal in r.json()["detail"]


def test_a_minors_ook_is_signed_by_both_in_order_and_only_then_signed(sandbox, koppel):
    tid = create(sandbox, Context={"documentKind": "onderwijsovereenkomst", "studentIsMinor": True}, SignRequestMode=2,
                 Signers=[signer("s@x.nl"), signer("ouder@x.nl", "wettelijk_vertegenwoordiger")])["Id"]
    upload(sandbox, tid)
    client.put(f"{sandbox.url('signhost')}/transaction/{tid}/start", headers=signhost_headers())
    koppel.wait_for(lambda c: c["path"] == "/hooks/signhost" and c["json"]["Id"] == tid and c["json"]["Status"] == 30)
    calls = [c["json"] for c in koppel.calls if c["path"] == "/hooks/signhost" and c["json"]["Id"] == tid]
    assert [c["Status"] for c in calls] == [10, 20, 30]
    in_progress, signed = calls[1], calls[2]
    assert in_progress["Signers"][0]["SignedDateTime"] and not in_progress["Signers"][1]["SignedDateTime"]
    first, second = (s["SignedDateTime"] for s in signed["Signers"])
    assert first <= second


def test_no_file_or_receipt_before_the_last_signature(sandbox):
    tid = create(sandbox)["Id"]
    upload(sandbox, tid)
    assert client.get(f"{sandbox.url('signhost')}/file/receipt/{tid}", headers=signhost_headers()).status_code == 404
    assert client.get(f"{sandbox.url('signhost')}/transaction/{tid}/file/ook.pdf", headers=signhost_headers()).status_code == 403


def test_a_signer_who_rejects_ends_in_status_40(sandbox, koppel):
    tid = create(sandbox, Signers=[signer("s100002+reject@student.kw1c.nl")])["Id"]
    upload(sandbox, tid)
    client.put(f"{sandbox.url('signhost')}/transaction/{tid}/start", headers=signhost_headers())
    koppel.wait_for(lambda c: c["path"] == "/hooks/signhost" and c["json"]["Id"] == tid and c["json"]["Status"] == 40)


def test_a_postback_koppel_refuses_is_retried(sandbox, koppel):
    tid = create(sandbox)["Id"]
    upload(sandbox, tid)
    koppel.status = 500
    try:
        client.put(f"{sandbox.url('signhost')}/transaction/{tid}/start", headers=signhost_headers())
        koppel.wait_for(lambda c: c["path"] == "/hooks/signhost" and c["json"]["Id"] == tid)
        sent = lambda: [i for i in sandbox.context("signhost").received.items
                        if i["kind"] == "sent" and i["body"]["Id"] == tid and i["body"]["Status"] == 10]
        koppel.wait_for(lambda c: len(sent()) >= 2)
        assert [i["status"] for i in sent()][:2] == [500, 500]
    finally:
        koppel.status = 200


def test_the_dynamic_postback_url_receives_postbacks_too(sandbox, koppel):
    tid = create(sandbox, PostbackUrl=koppel.url + "/own/postback")["Id"]
    upload(sandbox, tid)
    client.put(f"{sandbox.url('signhost')}/transaction/{tid}/start", headers=signhost_headers())
    dynamic = koppel.wait_for(lambda c: c["path"] == "/own/postback" and c["json"]["Id"] == tid)[0]
    assert "checksum" not in dynamic["headers"]  # only the global URL has the header


def test_start_without_a_file_and_non_pdf_uploads_are_refused(sandbox):
    tid = create(sandbox)["Id"]
    assert client.put(f"{sandbox.url('signhost')}/transaction/{tid}/start", headers=signhost_headers()).status_code == 400
    assert upload(sandbox, tid, data=b"not a pdf").status_code == 400
    assert upload(sandbox, tid, Digest="SHA-256=" + base64.b64encode(b"x" * 32).decode()).status_code == 400
    unknown = "00000000-0000-4000-8000-000000000000"
    assert upload(sandbox, unknown).status_code == 404


def test_file_metadata_is_accepted_before_the_file(sandbox):
    tid = create(sandbox)["Id"]
    r = client.put(f"{sandbox.url('signhost')}/transaction/{tid}/file/ook.pdf",
                   json={"DisplayName": "Onderwijsovereenkomst", "DisplayOrder": 1}, headers=signhost_headers())
    assert r.status_code == 202


@pytest.mark.parametrize("body", [{"Reference": "no Seal"}, {"Seal": False, "Signers": [{"Mobile": "+316"}]}])
def test_a_transaction_that_breaks_the_contract_is_refused(sandbox, body):
    r = client.post(sandbox.url("signhost") + "/transaction", json=body, headers=signhost_headers())
    assert r.status_code == 400
    assert r.json()["status"] == 400 and r.json()["detail"]
    # recorded as refused (not the last item: an earlier test's postback may land after it)
    assert [i["kind"] for i in sandbox.context("signhost").received.items].count("refused") == 1


def test_signhost_contract_checks_enums_from_the_real_spec(sandbox):
    specs_present(sandbox, "signhost/openapi.yaml")
    r = client.post(sandbox.url("signhost") + "/transaction", json={"Seal": False, "Language": "xx-XX"},
                    headers=signhost_headers())
    assert r.status_code == 400 and "Language" in r.json()["detail"]


def test_wrong_key_prefix_is_unauthorized(sandbox):
    headers = signhost_headers()
    headers["Application"] = secret("signhost-app-key")  # without "APPKey "
    r = client.post(sandbox.url("signhost") + "/transaction", json={"Seal": True}, headers=headers)
    assert r.status_code == 401 and "Message" in r.json()
