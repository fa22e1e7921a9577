"""A hostile client against ``koppel serve`` for the project's own definitions (its own process,
on 127.0.0.1): every refusal has its status and an RFC 9457 problem body, nothing refused
is stored, the server's resident memory stays flat under oversized chunked bodies, and it
stays up.

KOPPEL_HOSTILE_MB (default 200) sets the size of the oversized bodies; the server stops reading
long before, so the default is cheap.
"""

from __future__ import annotations

import json
import os
import select
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from inbound_helpers import (
    USER,
    ServerProcess,
    inbox_count,
    make_sis,
    query,
    secret,
    signed,
)

HOSTILE_MB = int(os.environ.get("KOPPEL_HOSTILE_MB", "200"))
HOOK = "/hooks/aanmeldmodule"  # interface 6, Standard Webhooks (catalog.yaml)
SIGNHOST = "/hooks/signhost"  # interface 14's callback, Signhost's checksum
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    sis_url, state_url = f"sqlite:///{tmp / 'sis.db'}", f"sqlite:///{tmp / 'state.db'}"
    make_sis(sis_url)
    with ServerProcess(tmp, sis_url, state_url) as process:
        process.state_url, process.sis_url = state_url, sis_url
        yield process


@pytest.fixture(scope="module")
def key() -> str:
    return secret("aanmeldmodule-webhook-secret")


def chunked_post(port: int, path: str, headers: dict[str, str], megabytes: int) -> tuple[int | None, bytes, int]:
    """POST ``megabytes`` of chunked body as fast as the server takes it; stop when it answers.
    Returns (status, response bytes, bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    piece = b"[" * 65536
    frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    sent, answer = 0, b""
    try:
        sock.sendall(head.encode())
        while sent < megabytes * 1024 * 1024:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered (or closed): stop sending
            sock.sendall(frame)
            sent += len(piece)
        else:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass
    try:
        sock.settimeout(10)
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    except (ConnectionResetError, TimeoutError):
        pass
    finally:
        sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None
    return status, answer, sent


def problem_of(response: httpx.Response) -> dict:
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body = response.json()
    assert body["type"] == "about:blank" and body["status"] == response.status_code, body
    return body


def test_oversized_chunked_bodies_leave_resident_memory_flat(server, key):
    headers_now = lambda: signed(key, b"{}", signed_body=b"other")  # fresh headers, a wrong signature
    for _ in range(3):  # warm up: the first calls import and allocate what every call needs
        httpx.post(server.url + HOOK, content=b"{}", headers=headers_now())
    before = server.rss_kb()

    def unsigned(_):
        return chunked_post(server.port, HOOK, {"Content-Type": "application/json"}, HOSTILE_MB)

    def with_signature_headers(_):
        return chunked_post(server.port, HOOK, {"Content-Type": "application/json", **headers_now()}, HOSTILE_MB)

    with ThreadPoolExecutor(4) as pool:
        refused_unread = list(pool.map(unsigned, range(4)))
        after_unsigned = server.rss_kb()
        refused_at_limit = list(pool.map(with_signature_headers, range(4)))
    after = server.rss_kb()
    print(f"\nRSS before {before / 1024:.1f} MB, after 4 parallel unsigned {HOSTILE_MB} MB bodies "
          f"{after_unsigned / 1024:.1f} MB, after 4 parallel signed-looking ones {after / 1024:.1f} MB")
    # no signature headers: 401 before a byte of the body is read
    assert [s for s, _, _ in refused_unread] == [401] * 4
    assert all(sent < 20 * 1024 * 1024 for _, _, sent in refused_unread), [s for _, _, s in refused_unread]
    # signature headers present: read up to the 5 MB limit, then 413 while still streaming
    assert [s for s, _, _ in refused_at_limit] == [413] * 4
    assert all(b"application/problem+json" in answer for _, answer, _ in refused_at_limit)
    assert after_unsigned - before < 8 * 1024, (before, after_unsigned)
    assert after - before < 40 * 1024, (before, after)  # 4 x the 5 MB limit at most, never 4 x 200 MB
    assert inbox_count(server.state_url, 6) == 0
    assert server.alive()


def test_declared_length_past_the_limit_is_refused_before_reading(server, key):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    headers = signed(key, b"{}")
    head = f"POST {HOOK} HTTP/1.1\r\nHost: x\r\nContent-Length: {HOSTILE_MB * 1024 * 1024}\r\n"
    sock.sendall((head + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode())
    answer = b""
    while chunk := sock.recv(65536):  # the server closes the connection after its answer
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"larger than 5000000 bytes" in answer


@pytest.mark.parametrize("case, body, content_type, status, detail", [
    ("deep JSON", DEEP, "application/json", 400, "nested deeper than 32 levels"),
    ("empty body", b"", "application/json", 400, "the body is empty"),
    ("white space", b"  \n ", "application/json", 400, "the body is empty"),
    ("an empty list", b"[]", "application/json", 400, "the body is an empty list"),
    ("a string", b'"aanmelding"', "application/json", 400, "the body is a JSON string"),
    ("a list of numbers", b"[1, 2]", "application/json", 400, "record [0] is a JSON number, not an object"),
    ("a key that is an object", b'{"aanmeldId": {"$gt": ""}}', "application/json", 400,
     "the record key at 'aanmeldId' is a JSON object, not a string or number"),
    ("no key", b'{"naam": "x"}', "application/json", 422, "a record has no key at 'aanmeldId'"),
    ("duplicate keys", b'{"aanmeldId": "A1", "aanmeldId": "A2"}', "application/json", 400, "appears twice"),
    ("NaN", b'{"aanmeldId": "A1", "x": NaN}', "application/json", 400, "NaN is not a JSON number"),
    ("broken JSON", b'{"aanmeldId": ', "application/json", 400, "the body is not JSON at line 1 column 15"),
    ("text/plain", b'{"aanmeldId": "A1"}', "text/plain", 415, "content type 'text/plain' is not accepted"),
    ("form data", b"aanmeldId=A1", "application/x-www-form-urlencoded", 415, "is not accepted"),
])
def test_a_signed_but_malformed_call_is_a_problem_and_stores_nothing(server, key, case, body, content_type,
                                                                     status, detail):
    stored = inbox_count(server.state_url, 6)
    response = httpx.post(server.url + HOOK, content=body, headers={**signed(key, body), "Content-Type": content_type})
    assert response.status_code == status, (case, response.text)
    problem = problem_of(response)
    assert detail in problem["detail"], (case, problem)
    assert problem["instance"] == HOOK
    assert inbox_count(server.state_url, 6) == stored
    assert httpx.get(server.url + "/healthz").status_code == 200


@pytest.mark.parametrize("case, headers", [
    ("no signature", {}),
    ("wrong secret", "wrong"),
    ("other bytes signed", "tampered"),
])
def test_deep_json_without_valid_credentials_is_401_before_parsing(server, key, case, headers):
    from sandbox.rest.webhooks import standard_webhook_headers

    if headers == "wrong":
        headers = standard_webhook_headers("whsec_" + "QUJD" * 8, DEEP)
    elif headers == "tampered":
        headers = standard_webhook_headers(key, DEEP, signed_body=b"{}")
    response = httpx.post(server.url + HOOK, content=DEEP, headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 401, (case, response.text)
    assert problem_of(response)["detail"] == "unauthorised"


def test_a_body_that_is_not_utf8_cannot_be_verified_and_is_401(server, key):
    """Standard Webhooks signs text (id.timestamp.payload); bytes that are not UTF-8 fail it."""
    import base64
    import hashlib
    import hmac

    body, stamp = b'{"aanmeldId": "\xff\xfe"}', str(int(time.time()))
    raw_key = base64.b64decode(key.removeprefix("whsec_"))
    mac = hmac.new(raw_key, b"msg_latin1." + stamp.encode() + b"." + body, hashlib.sha256).digest()
    headers = {"webhook-id": "msg_latin1", "webhook-timestamp": stamp,
               "webhook-signature": "v1," + base64.b64encode(mac).decode(), "Content-Type": "application/json"}
    stored = inbox_count(server.state_url, 6)
    assert httpx.post(server.url + HOOK, content=body, headers=headers).status_code == 401
    assert inbox_count(server.state_url, 6) == stored


def test_signhost_deep_json_is_400_and_the_empty_registration_call_is_200(server):
    response = httpx.post(server.url + SIGNHOST, content=DEEP, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "nested deeper" in problem_of(response)["detail"]
    unsigned = json.dumps({"Id": "b10ae331-af78-4e79-a39e-5b64693b6b68", "Status": 30}).encode()
    response = httpx.post(server.url + SIGNHOST, content=unsigned, headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    assert httpx.post(server.url + SIGNHOST, content=b"").status_code == 200
    assert inbox_count(server.state_url, 14) == 0


def test_a_captured_call_replayed_is_answered_2xx_and_stored_once(server, key):
    body = json.dumps({"aanmeldId": "AM-2026-REPLAY", "kanaal": "aanmeldmodule"}).encode()
    captured = signed(key, body)
    first = httpx.post(server.url + HOOK, content=body, headers=captured)
    assert (first.status_code, first.json()) == (202, {"accepted": 1})
    replays = [httpx.post(server.url + HOOK, content=body, headers=captured) for _ in range(3)]
    assert [(r.status_code, r.json()) for r in replays] == [(200, {"accepted": 0, "repeated": True})] * 3
    # the same message id with other bytes is a forgery, not a repeat
    forged = httpx.post(server.url + HOOK, content=body.replace(b"REPLAY", b"FORGED"), headers=captured)
    assert forged.status_code == 401
    keys = [k for (k,) in _keys(server, 6)]
    assert keys.count("AM-2026-REPLAY") == 1 and "AM-2026-FORGED" not in keys


def test_parallel_replays_store_one_row(server, key):
    body = json.dumps({"aanmeldId": "AM-2026-PARALLEL"}).encode()
    captured = signed(key, body)
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda _: httpx.post(server.url + HOOK, content=body, headers=captured).status_code,
                                   range(8)))
    assert statuses == [200] * 7 + [202]
    assert [k for (k,) in _keys(server, 6)].count("AM-2026-PARALLEL") == 1


@pytest.mark.parametrize("age", [-310, 310, 3600])  # clear of the 300 s edge (timestamps are whole seconds)
def test_a_validly_signed_call_with_a_stale_or_future_timestamp_is_refused(server, key, age):
    body = json.dumps({"aanmeldId": f"AM-2026-STALE{age}"}).encode()
    response = httpx.post(server.url + HOOK, content=body, headers=signed(key, body, timestamp=time.time() - age))
    assert response.status_code == 401
    assert f"AM-2026-STALE{age}" not in [k for (k,) in _keys(server, 6)]


def test_within_the_tolerance_is_accepted(server, key):
    body = json.dumps({"aanmeldId": "AM-2026-LATE"}).encode()
    response = httpx.post(server.url + HOOK, content=body, headers=signed(key, body, timestamp=time.time() - 240))
    assert response.status_code == 202


def _keys(server, interface_id: int) -> list[tuple]:
    return query(server.state_url, "SELECT key FROM koppel_inbox WHERE interface_id = :i ORDER BY id", i=interface_id)


def test_the_daemon_applies_scim_at_once_and_a_delete_never_removes_the_student(server):
    scim = httpx.Client(base_url=server.url + "/scim/v2", timeout=10,
                        headers={"Authorization": "Bearer " + secret("iam-scim-token"),
                                 "Content-Type": "application/scim+json"})
    stored = inbox_count(server.state_url, 3)
    missing = scim.post("/Users", json={"schemas": [USER], "externalId": "P100002"})
    assert (missing.status_code, missing.json()["scimType"], missing.json()["detail"]) == (400, "invalidValue",
                                                                                            "userName: required")
    assert inbox_count(server.state_url, 3) == stored
    account = "SELECT account_name, email_school FROM person WHERE person_number = 'P100002'"
    user = {"schemas": [USER], "externalId": "P100002", "userName": "s100002",
            "emails": [{"value": "s100002@student.kw1c.nl", "type": "work", "primary": True}]}
    assert scim.post("/Users", json=user).status_code == 201
    assert _eventually(lambda: query(server.sis_url, account) == [("s100002", "s100002@student.kw1c.nl")])
    assert scim.get("/Users", params={"filter": 'userName eq "s100002"'}).json()["totalResults"] == 1
    assert scim.delete("/Users/P100002").status_code == 204
    assert _eventually(lambda: query(server.sis_url, account) == [(None, None)])
    assert query(server.sis_url, "SELECT student_number FROM student WHERE person_number = 'P100002'") == [("S100002",)]
    scim.close()


def _eventually(check, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()
