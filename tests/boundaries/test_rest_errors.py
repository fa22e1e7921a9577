"""plugins/rest/errors.py: every HTTP answer and failure gets its class, its code, its wait, and a
message that says what happened without a secret or a BSN."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from plugins.rest import errors
from runtime import redact
from runtime.errors import ConfigError, RecordError, TransientError

NOW = 1_800_000_000.0  # a fixed "now" (2027-01-15), epoch seconds


def response(status: int, body=None, headers: dict | None = None, text: str | None = None) -> httpx.Response:
    if body is not None:
        return httpx.Response(status, json=body, headers=headers)
    return httpx.Response(status, text=text or "", headers=headers)


@pytest.mark.parametrize("status, cls, code", [
    (500, TransientError, "500"), (502, TransientError, "502"), (503, TransientError, "503"),
    (599, TransientError, "599"), (408, TransientError, "408"), (425, TransientError, "425"),
    (429, TransientError, "429"), (401, ConfigError, "401"), (403, ConfigError, "403"),
    (400, RecordError, "400"), (404, RecordError, "404"), (409, RecordError, "409"), (410, RecordError, "410"),
    (413, RecordError, "413"), (415, RecordError, "415"), (422, RecordError, "422"), (499, RecordError, "499"),
    (300, ConfigError, "300"), (301, ConfigError, "301"), (308, ConfigError, "308"), (399, ConfigError, "399"),
])
def test_every_status_class(status, cls, code):
    error = errors.for_status(response(status), "POST /x")
    assert type(error) is cls and error.code == code
    assert error.message.startswith(f"POST /x: HTTP {status}")


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_a_success_is_no_error(status):
    assert errors.for_status(response(status), "GET /x") is None


def test_the_messages_users_read_say_what_to_fix():
    assert str(errors.for_status(response(401), "GET /a")) == (
        "GET /a: HTTP 401 (check the credentials and rights of this system) [401]")
    assert str(errors.for_status(response(302, headers={"location": "/b"}), "GET /a")) == (
        "GET /a: HTTP 302 (redirect not followed: check the system's url) [302]")
    assert str(errors.for_status(response(422, {"message": "naam ontbreekt"}), "POST /s")) == (
        "POST /s: HTTP 422: naam ontbreekt [422]")
    assert str(errors.for_status(response(404), "GET /a")) == "GET /a: HTTP 404 [404]"


def test_retry_after_in_seconds_and_as_a_date():
    assert errors.retry_after_seconds(response(429, headers={"retry-after": "12"}), now=NOW) == 12.0
    assert errors.retry_after_seconds(response(429, headers={"retry-after": " 1.5 "}), now=NOW) == 1.5
    assert errors.retry_after_seconds(response(429, headers={"retry-after": "-3"}), now=NOW) == 0.0
    when = format_datetime(datetime.fromtimestamp(NOW + 90, UTC), usegmt=True)
    assert errors.retry_after_seconds(response(503, headers={"retry-after": when}), now=NOW) == 90.0
    past = format_datetime(datetime.fromtimestamp(NOW - 90, UTC), usegmt=True)
    assert errors.retry_after_seconds(response(503, headers={"retry-after": past}), now=NOW) == 0.0
    assert errors.retry_after_seconds(response(503, headers={"retry-after": "soon"}), now=NOW) is None
    assert errors.retry_after_seconds(response(503), now=NOW) is None


def test_a_transient_error_carries_the_wait():
    error = errors.for_status(response(429, headers={"retry-after": "7"}), "GET /a")
    assert isinstance(error, TransientError) and error.retry_after == 7.0
    assert errors.for_status(response(500), "GET /a").retry_after is None


def test_rate_limit_resets_by_size_milliseconds_seconds_or_a_delta():
    assert errors.reset_to_seconds(NOW * 1000 + 30_000, NOW) == 30.0      # Exact: epoch ms
    assert errors.reset_to_seconds(NOW + 45, NOW) == 45.0                 # epoch seconds
    assert errors.reset_to_seconds(20, NOW) == 20.0                       # seconds from now
    assert errors.reset_to_seconds(NOW - 5, NOW) == 0.0 and errors.reset_to_seconds(-1, NOW) == 0.0
    assert errors.reset_to_seconds(NOW * 1000 - 1, NOW) == 0.0
    assert errors.reset_to_seconds(1e9 - 1, NOW) == 1e9 - 1               # below 1e9: a delta
    assert errors.reset_to_seconds(1e9, 1e9 - 10) == 10.0                 # from 1e9 on: epoch seconds
    assert errors.reset_to_seconds(1e12 - 1, 1e12 - 31) == 30.0           # ... up to 1e12
    assert errors.reset_to_seconds(1e12, 1e9 - 5) == 5.0                  # from 1e12 on: epoch ms
    assert errors.reset_to_seconds(1e12 + 1000, 1e9) == pytest.approx(1.0, abs=1e-3)


def test_the_reset_headers_are_read_when_there_is_no_retry_after():
    minutely = response(429, headers={"x-ratelimit-minutely-reset": str(int(NOW * 1000) + 15_000),
                                      "x-ratelimit-reset": str(NOW + 500)})
    assert errors.retry_after_seconds(minutely, now=NOW) == 15.0  # the minutely window first
    assert errors.retry_after_seconds(response(429, headers={"x-ratelimit-reset": "40"}), now=NOW) == 40.0
    broken = response(429, headers={"x-ratelimit-minutely-reset": "x", "x-ratelimit-reset": "8"})
    assert errors.retry_after_seconds(broken, now=NOW) == 8.0
    both = response(429, headers={"retry-after": "3", "x-ratelimit-reset": "40"})
    assert errors.retry_after_seconds(both, now=NOW) == 3.0


@pytest.mark.parametrize("body, text", [
    ({"error": "invalid_grant", "error_description": "expired"}, "invalid_grant: expired"),
    ({"message": "m"}, "m"), ({"Message": "M"}, "M"), ({"detail": "d"}, "d"),
    ({"error_description": "only"}, "only"), ({"title": "t"}, "t"),
    ({"error": {"message": {"lang": "nl", "value": "OData fout"}}}, "OData fout"),
    ({"error": {"message": "plain"}}, "plain"), ({"error": {"code": 1}}, '{"code": 1}'),
    ({"error": "x"}, "x"), ({"errors": ["a", "b"]}, '["a", "b"]'),
    ({"message": "first", "detail": "second"}, "first"),
    ({"other": 1}, '{"other": 1}'), ([1, "a"], '[1, "a"]'),
    ({"errors": ["opleiding é onbekend"]}, '["opleiding é onbekend"]'), ({"fout": "ü"}, '{"fout": "ü"}'),
    (["Łódź"], '["Łódź"]'), ("plain string é", "plain string é"),
])
def test_the_peers_message_is_taken_from_the_usual_shapes(body, text):
    assert errors.error_text(response(400, body)) == text


def test_plain_text_is_squeezed_cut_and_masked():
    secret = "PeerKey77"
    redact.register_secret(secret)
    long = "fout   in\n\nregel " + "x" * 600 + f" 111222333 {secret}"
    got = errors.error_text(response(500, text=long))
    assert got.startswith("fout in regel xxx") and got.endswith("…") and len(got) == 501
    assert errors.error_text(response(500, text=f"bsn 111222333 key={secret}")) == "bsn *****2333 key=*****"
    assert errors.error_text(response(500, {"message": "bsn 111222333"})) == "bsn *****2333"
    assert errors.error_text(response(500, text="x" * 500)) == "x" * 500  # exactly the limit: not cut
    assert errors.error_text(response(500)) == ""


def test_a_body_in_another_encoding_does_not_break_the_error():
    raw = httpx.Response(500, content="f\xe9ut".encode("latin-1"), headers={"content-type": "text/plain; charset=utf-8"})
    assert errors.error_text(raw).startswith("f")


def _request() -> httpx.Request:
    return httpx.Request("GET", "https://peer.example/a?token=1")


@pytest.mark.parametrize("exc, cls, code", [
    (httpx.ConnectTimeout("t", request=_request()), TransientError, "timeout"),
    (httpx.ReadTimeout("t", request=_request()), TransientError, "timeout"),
    (httpx.PoolTimeout("t", request=_request()), TransientError, "timeout"),
    (httpx.ConnectError("refused", request=_request()), TransientError, "connect"),
    (httpx.RemoteProtocolError("closed", request=_request()), TransientError, "connect"),
    (httpx.ReadError("reset", request=_request()), TransientError, "connect"),
    (httpx.WriteError("broken pipe", request=_request()), TransientError, "connect"),
    (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] self-signed", request=_request()), ConfigError, "tls"),
    (httpx.UnsupportedProtocol("ftp://x"), ConfigError, None),
    (httpx.InvalidURL("bad"), ConfigError, None),
    (httpx.TooManyRedirects("loop", request=_request()), ConfigError, None),
    (httpx.DecodingError("gzip", request=_request()), TransientError, "http"),
])
def test_every_failure_without_an_answer_has_its_class(exc, cls, code):
    error = errors.for_exception(exc, "GET /a")
    assert type(error) is cls and error.code == code
    assert error.message.startswith("GET /a: ")


def test_failure_messages_name_the_kind_and_mask_the_detail():
    assert str(errors.for_exception(httpx.ReadTimeout("t", request=_request()), "GET /a")) == (
        "GET /a: timed out (ReadTimeout) [timeout]")
    assert str(errors.for_exception(httpx.ConnectError("no route to 111222333"), "GET /a")) == (
        "GET /a: connection failed (ConnectError: no route to *****2333) [connect]")
    assert str(errors.for_exception(httpx.ConnectError("x" * 300), "GET /a")) == (
        f"GET /a: connection failed (ConnectError: {'x' * 200}) [connect]")
    assert "check tls.ca_file" in str(errors.for_exception(httpx.ConnectError("CERTIFICATE_VERIFY_FAILED"), "G"))
    assert str(errors.for_exception(httpx.InvalidURL("bad 111222333"), "G")) == "G: invalid URL (bad *****2333)"
    assert str(errors.for_exception(httpx.TooManyRedirects("loop"), "G")) == (
        "G: too many redirects (check the system's url)")
    assert str(errors.for_exception(httpx.DecodingError("y" * 300), "G")) == f"G: DecodingError: {'y' * 200} [http]"


def test_a_malformed_success_is_transient():
    error = errors.malformed("GET /a", "not JSON")
    assert type(error) is TransientError and str(error) == "GET /a: malformed response (not JSON) [malformed]"


def test_an_oauth_body_without_a_description_uses_the_error_field():
    assert errors.error_text(response(400, {"error": "invalid_client"})) == "invalid_client"
    assert json.loads(errors.error_text(response(400, {"error": {"x": [1]}}))) == {"x": [1]}
