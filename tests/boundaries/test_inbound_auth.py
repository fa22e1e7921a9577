"""runtime/engine/inbound_auth.py: each scheme accepts the call that is right and refuses every
call that is off by one thing (a byte of the body, a header, the case of a prefix, a second).

Signatures are made here the way each sender makes them (the standardwebhooks package for
Standard Webhooks, Signhost's documented checksum), not with the verifier's own code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC

import pytest
from pydantic import TypeAdapter
from standardwebhooks.webhooks import Webhook

from runtime.engine import inbound_auth
from runtime.errors import ConfigError
from runtime.models.auth import InboundAuth
from tests.fakeclock import patch_for_this_thread

SECRET = "s3cr3t-inbound"
WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def make(auth: dict, monkeypatch, secret: str = SECRET) -> inbound_auth.Verifier:
    monkeypatch.setenv("INBOUND_SECRET", secret)
    model = TypeAdapter(InboundAuth).validate_python(auth)
    return inbound_auth.verifier(model, None)


def check(auth: dict, monkeypatch, secret: str = SECRET):
    monkeypatch.setenv("INBOUND_SECRET", secret)
    return inbound_auth.checker(TypeAdapter(InboundAuth).validate_python(auth), None)


REF = "${env:INBOUND_SECRET}"


def test_none_accepts_everything_and_has_no_id(monkeypatch):
    v = make({"type": "none"}, monkeypatch)
    assert v.headers_ok({}) and v.body_ok({}, b"x") and v.message_id({}, b"x") is None
    assert v.needs_data is False and v.empty_ok is False


def test_bearer(monkeypatch):
    v = make({"type": "bearer", "token": REF}, monkeypatch)
    assert v.headers_ok({"authorization": f"Bearer {SECRET}"})
    for wrong in ({}, {"authorization": SECRET}, {"authorization": f"bearer {SECRET}"},
                  {"authorization": f"Bearer {SECRET}x"}, {"authorization": f"Bearer {SECRET[:-1]}"},
                  {"authorization": f"Bearer  {SECRET}"}):
        assert not v.headers_ok(wrong), wrong
    assert v.body_ok({}, b"anything") and v.message_id({}, b"x") is None


def test_api_key_needs_every_header_with_its_prefix(monkeypatch):
    monkeypatch.setenv("APP_KEY", "app-123")
    v = make({"type": "api_key", "headers": {"Application": "${env:APP_KEY}", "Authorization": REF},
              "prefixes": {"Application": "APPKey "}}, monkeypatch)
    good = {"application": "APPKey app-123", "authorization": SECRET}
    assert v.headers_ok(good)
    assert not v.headers_ok({"application": "APPKey app-123"})
    assert not v.headers_ok({**good, "application": "app-123"})
    assert not v.headers_ok({**good, "authorization": SECRET + "!"})


def test_basic(monkeypatch):
    v = make({"type": "basic", "username": "partner", "password": REF}, monkeypatch)
    token = base64.b64encode(f"partner:{SECRET}".encode()).decode()
    assert v.headers_ok({"authorization": f"Basic {token}"})
    wrong_user = base64.b64encode(f"other:{SECRET}".encode()).decode()
    assert not v.headers_ok({"authorization": f"Basic {wrong_user}"})
    assert not v.headers_ok({"authorization": f"Bearer {token}"}) and not v.headers_ok({})


def test_mutual_tls_subject_from_the_proxy_header(monkeypatch):
    v = make({"type": "mutual_tls", "subjects": ["CN=duo.nl", "CN=sbb.nl"], "header": "X-Client-Subject"}, monkeypatch)
    assert v.headers_ok({"x-client-subject": "CN=sbb.nl"})
    assert not v.headers_ok({"x-client-subject": "CN=sbb.nl "}) and not v.headers_ok({})
    assert not v.headers_ok({"x-client-cert-subject": "CN=sbb.nl"})


@pytest.mark.parametrize("algorithm", ["sha256", "sha1", "sha512"])
def test_hmac_over_the_raw_body(monkeypatch, algorithm):
    v = make({"type": "hmac", "secret": REF, "algorithm": algorithm, "header": "X-Hub-Signature",
              "prefix": "sha256="}, monkeypatch)
    body = b'{"id": 1}'
    digest = hmac.new(SECRET.encode(), body, getattr(hashlib, algorithm)).hexdigest()
    headers = {"x-hub-signature": "sha256=" + digest}
    assert v.headers_ok(headers) and v.body_ok(headers, body)
    assert v.body_ok({"x-hub-signature": " SHA256=" + digest.upper() + " "}, body)  # case and spaces
    assert not v.body_ok(headers, body + b" ")
    assert not v.body_ok({"x-hub-signature": digest}, body)  # the prefix is part of it
    assert not v.headers_ok({}) and not v.body_ok({}, body) and not v.headers_ok({"x-hub-signature": ""})
    other = hmac.new(b"other", body, getattr(hashlib, algorithm)).hexdigest()
    assert not v.body_ok({"x-hub-signature": "sha256=" + other}, body)
    # the signed bytes are the call's id: a byte-for-byte replay is known, any other body is new
    assert v.message_id(headers, body) == "sha256:" + hashlib.sha256(body).hexdigest()
    assert v.message_id(headers, body + b" ") != v.message_id(headers, body)


def _standard(body: bytes, msg_id: str = "msg_1", when: int | None = None) -> dict:
    when = int(time.time()) if when is None else when
    from datetime import datetime

    signature = Webhook(WHSEC).sign(msg_id, datetime.fromtimestamp(when, tz=UTC), body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(when), "webhook-signature": signature}


def test_standard_webhooks_signature_id_and_timestamp(monkeypatch):
    v = make({"type": "standard_webhooks", "secret": REF, "tolerance": 300}, monkeypatch, secret=WHSEC)
    body = b'{"type": "aanmelding", "id": 7}'
    headers = _standard(body)
    assert v.headers_ok(headers) and v.body_ok(headers, body)
    assert v.message_id(headers, body) == "msg_1"
    assert not v.body_ok(headers, body.replace(b"7", b"8"))
    assert not v.body_ok({**headers, "webhook-id": "msg_2"}, body)  # the id is signed too
    for missing in inbound_auth.StandardWebhooks.HEADERS:
        assert not v.headers_ok({k: val for k, val in headers.items() if k != missing}), missing
    assert not v.headers_ok({**headers, "webhook-timestamp": "soon"})
    assert not v.body_ok({**headers, "webhook-signature": "v1,not-base64!"}, body)
    assert not v.body_ok(headers, b"\xff\xfe")


def test_standard_webhooks_tolerance_is_exact_in_both_directions(monkeypatch):
    v = make({"type": "standard_webhooks", "secret": REF, "tolerance": 60}, monkeypatch, secret=WHSEC)
    body = b"{}"
    now = int(time.time())
    assert v.headers_ok(_standard(body, when=now - 55)) and v.headers_ok(_standard(body, when=now + 55))
    assert not v.headers_ok(_standard(body, when=now - 65))
    assert not v.headers_ok(_standard(body, when=now + 65))


def test_standard_webhooks_refuses_a_secret_that_is_not_whsec_base64(monkeypatch):
    with pytest.raises(ConfigError, match=r"^standard_webhooks: the secret must be 'whsec_' followed by base64$"):
        make({"type": "standard_webhooks", "secret": REF}, monkeypatch, secret="whsec_!!!not base64")


def _signhost(transaction: str, status, secret: str = SECRET) -> str:
    return hashlib.sha1(f"{transaction}||{status}|{secret}".encode()).hexdigest()


def test_signhost_checksum_in_the_body_or_the_header(monkeypatch):
    v = make({"type": "signhost_checksum", "secret": REF}, monkeypatch)
    assert v.needs_data and v.empty_ok
    data = {"Id": "tx-1", "Status": 30, "Checksum": _signhost("tx-1", 30)}
    body = json.dumps(data).encode()
    assert v.headers_ok({}) and v.body_ok({}, body, data)
    header_only = {"Id": "tx-1", "Status": 30}
    assert v.body_ok({"checksum": _signhost("tx-1", 30)}, b"", header_only)
    assert v.body_ok({"checksum": _signhost("tx-1", 30).upper()}, b"", header_only)
    assert v.body_ok({}, b"", {**header_only, "Status": "30", "Checksum": _signhost("tx-1", "30")})


def test_signhost_refuses_each_thing_off(monkeypatch):
    v = make({"type": "signhost_checksum", "secret": REF}, monkeypatch)
    good = _signhost("tx-1", 30)
    assert not v.body_ok({}, b"", {"Id": "tx-1", "Status": 30})                              # none sent
    assert not v.body_ok({}, b"", {"Id": "tx-1", "Status": 40, "Checksum": good})            # other status
    assert not v.body_ok({}, b"", {"Id": "tx-2", "Status": 30, "Checksum": good})            # other id
    assert not v.body_ok({"checksum": "0" * 40}, b"", {"Id": "tx-1", "Status": 30, "Checksum": good})  # both: both
    assert not v.body_ok({}, b"", {"Id": "tx-1", "Status": 30, "Checksum": 12})
    assert not v.body_ok({}, b"", {"Id": "", "Status": 30, "Checksum": _signhost("", 30)})
    assert not v.body_ok({}, b"", {"Id": 5, "Status": 30, "Checksum": _signhost(5, 30)})
    assert not v.body_ok({}, b"", {"Id": "tx-1", "Status": True, "Checksum": _signhost("tx-1", True)})
    assert not v.body_ok({}, b"", {"Id": "tx-1", "Status": "", "Checksum": _signhost("tx-1", "")})
    assert not v.body_ok({}, b"", {"Id": "tx-1", "Status": None, "Checksum": _signhost("tx-1", None)})
    assert not v.body_ok({}, b"", ["not", "an", "object"])
    other_secret = _signhost("tx-1", 30, secret="other")
    assert not v.body_ok({}, b"", {"Id": "tx-1", "Status": 30, "Checksum": other_secret})


def test_signhost_repeats_are_told_apart_by_the_exact_bytes(monkeypatch):
    v = make({"type": "signhost_checksum", "secret": REF}, monkeypatch)
    assert v.message_id({}, b"abc") == "sha256:" + hashlib.sha256(b"abc").hexdigest()
    assert v.message_id({}, b"abc") != v.message_id({}, b"abd")


def test_the_checker_runs_every_step_with_the_parsed_body_where_needed(monkeypatch):
    c = check({"type": "signhost_checksum", "secret": REF}, monkeypatch)
    good = json.dumps({"Id": "tx-1", "Status": 30, "Checksum": _signhost("tx-1", 30)}).encode()
    assert c({}, good) is True
    assert c({}, b"{not json") is False and c({}, b"[" * 100_000) is False
    bearer = check({"type": "bearer", "token": REF}, monkeypatch)
    assert bearer({"authorization": f"Bearer {SECRET}"}, b"") is True
    assert bearer({}, b"") is False
    signed = check({"type": "hmac", "secret": REF}, monkeypatch)
    body = b"payload"
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert signed({"x-signature": digest}, body) is True and signed({"x-signature": digest}, b"other") is False


def test_compare_is_none_safe():
    assert inbound_auth._eq(None, "x") is False
    assert inbound_auth._eq("x", "x") is True and inbound_auth._eq("x", "y") is False


def test_an_unknown_type_is_refused():
    class Fake:
        type = "telepathy"

    with pytest.raises(ValueError, match="unknown inbound auth type telepathy"):
        inbound_auth.verifier(Fake(), None)


def test_standard_webhooks_signs_bytes_not_json(monkeypatch):
    v = make({"type": "standard_webhooks", "secret": REF}, monkeypatch, secret=WHSEC)
    body = b"naam=Jansen&status=aangemeld"  # a form body: correctly signed, not JSON
    assert v.body_ok(_standard(body), body)


def test_standard_webhooks_accepts_a_timestamp_exactly_at_the_tolerance(monkeypatch):
    v = make({"type": "standard_webhooks", "secret": REF, "tolerance": 60}, monkeypatch, secret=WHSEC)
    patch_for_this_thread(monkeypatch, inbound_auth.time, "time", lambda: 1_800_000_000.0)
    assert v.headers_ok(_standard(b"{}", when=1_800_000_000 - 60))
    assert v.headers_ok(_standard(b"{}", when=1_800_000_000 + 60))
    assert not v.headers_ok(_standard(b"{}", when=1_800_000_000 - 61))


@pytest.mark.parametrize("auth, headers", [
    ({"type": "bearer", "token": "${file:secrets/inbound}"}, lambda s: {"authorization": f"Bearer {s}"}),
    ({"type": "api_key", "headers": {"X-Key": "${file:secrets/inbound}"}}, lambda s: {"x-key": s}),
    ({"type": "basic", "username": "u", "password": "${file:secrets/inbound}"},
     lambda s: {"authorization": "Basic " + base64.b64encode(f"u:{s}".encode()).decode()}),
])
def test_a_secret_file_is_read_from_the_project_folder(tmp_path, monkeypatch, auth, headers):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "inbound").write_text("from-the-project-file\n")
    monkeypatch.chdir(tmp_path.parent)  # not the project folder: a relative path must not work by luck
    v = inbound_auth.verifier(TypeAdapter(InboundAuth).validate_python(auth), tmp_path)
    assert v.headers_ok(headers("from-the-project-file"))


def test_signature_secrets_are_read_from_the_project_folder_too(tmp_path, monkeypatch):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "hmac").write_text("hmac-secret")
    (tmp_path / "s" / "whsec").write_text(WHSEC)
    (tmp_path / "s" / "signhost").write_text("signhost-secret")
    monkeypatch.chdir(tmp_path.parent)
    adapter = TypeAdapter(InboundAuth)
    hm = inbound_auth.checker(adapter.validate_python({"type": "hmac", "secret": "${file:s/hmac}"}), tmp_path)
    body = b"x"
    assert hm({"x-signature": hmac.new(b"hmac-secret", body, hashlib.sha256).hexdigest()}, body)
    sw = inbound_auth.checker(adapter.validate_python({"type": "standard_webhooks", "secret": "${file:s/whsec}"}),
                              tmp_path)
    assert sw(_standard(b"{}"), b"{}")
    sh = inbound_auth.checker(adapter.validate_python({"type": "signhost_checksum", "secret": "${file:s/signhost}"}),
                              tmp_path)
    payload = {"Id": "t", "Status": 30, "Checksum": _signhost("t", 30, secret="signhost-secret")}
    assert sh({}, json.dumps(payload).encode())
