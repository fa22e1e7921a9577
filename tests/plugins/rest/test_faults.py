"""Each way an HTTP peer fails maps to the right error class (runtime.errors)."""

from __future__ import annotations

import socket
import time

import pytest

from plugins.rest import plugin
from runtime.errors import ConfigError, RecordError, TransientError
from runtime.plugin import Item

from .conftest import context

BSN = "111222333"  # passes the elfproef


def _target(url: str, **system):
    spec = plugin.target_spec.model_validate({"type": "rest", "path": "records", "reference": "id"})
    target = plugin.create_target(spec, context(url, **system))
    target.open()
    return target


def _item(n: int = 1) -> Item:
    return Item(key=f"k{n}", payload={"id": n}, source_key=f"k{n}")


@pytest.fixture
def records(peer):
    @peer.route("POST", "/records")
    def accept(request):
        return 201, {"id": f"T-{request.json()['id']}"}

    return peer


def _transient(outcomes) -> TransientError:
    """A transient failure of one call is its item's Outcome, not an exception (runtime.plugin)."""
    assert len(outcomes) == 1 and isinstance(outcomes[0].error, TransientError), outcomes
    return outcomes[0].error


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_is_transient() -> None:
    target = _target(f"http://127.0.0.1:{_closed_port()}")
    caught = _transient(target.write([_item()]))
    assert caught.code == "connect"


def test_timeout_is_transient(records) -> None:
    records.fail("/records", status=None, delay=1.0)
    target = _target(records.url, timeout=0.3)
    caught = _transient(target.write([_item()]))
    assert caught.code == "timeout"


def test_dropped_connection_is_transient(records) -> None:
    records.fail("/records", drop=True, times=-1)
    _transient(_target(records.url).write([_item()]))


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient(records, status) -> None:
    records.fail("/records", status=status, body={"message": "down"})
    caught = _transient(_target(records.url).write([_item()]))
    assert caught.code == str(status)


def test_short_retry_after_is_waited_out_inside_the_plugin(records) -> None:
    records.fail("/records", status=429, headers={"Retry-After": "0.1"}, times=2)
    outcomes = _target(records.url).write([_item()])
    assert outcomes[0].ok and outcomes[0].reference == "T-1"
    assert len(records.requests) == 3  # two 429s, then the delivery


def test_a_failed_call_fails_only_its_own_item(records) -> None:
    # the second call of three is answered 503: the first and third are delivered all the same
    state = {"n": 0}

    @records.route("POST", "/records")
    def second_fails(request):
        state["n"] += 1
        if state["n"] == 2:
            return 503, {"message": "busy"}
        return 201, {"id": f"T-{request.json()['id']}"}

    outcomes = _target(records.url).write([_item(1), _item(2), _item(3)])
    assert [o.reference for o in outcomes] == ["T-1", None, "T-3"]
    assert isinstance(outcomes[1].error, TransientError) and outcomes[1].error.code == "503"
    assert "/records: HTTP 503: busy" in str(outcomes[1].error)


def test_short_retry_after_of_one_item_in_many_goes_back_to_the_engine(records) -> None:
    # in a write of several items the plugin does not sleep for one: the engine's per-record
    # clock waits for it while the others go on
    records.fail("/records", status=429, headers={"Retry-After": "0.4"}, times=1)
    started = time.monotonic()
    outcomes = _target(records.url).write([_item(1), _item(2)])
    assert time.monotonic() - started < 0.35
    assert outcomes[0].error.retry_after == pytest.approx(0.4) and outcomes[1].reference == "T-2"
    assert len(records.requests) == 2


def test_long_retry_after_goes_back_to_the_engine(records) -> None:
    records.fail("/records", status=429, headers={"Retry-After": "120"})
    caught = _transient(_target(records.url).write([_item()]))
    assert caught.code == "429" and caught.retry_after == pytest.approx(120)


def test_rate_limit_reset_header_gives_retry_after(records) -> None:
    reset_ms = int((time.time() + 42) * 1000)  # Exact: epoch milliseconds
    records.fail("/records", status=429, headers={"X-RateLimit-Minutely-Reset": str(reset_ms)})
    caught = _transient(_target(records.url).write([_item()]))
    assert 40 <= caught.retry_after <= 42.5


def test_malformed_json_is_transient(records) -> None:
    records.fail("/records", status=200, body=b'{"id": "T-1", ', headers={"Content-Type": "application/json"})
    caught = _transient(_target(records.url).write([_item()]))
    assert caught.code == "malformed"


def test_html_error_page_is_transient(records) -> None:
    records.fail("/records", status=200, body="<html>Bad gateway</html>", headers={"Content-Type": "text/html"})
    _transient(_target(records.url).write([_item()]))


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_client_errors_fail_the_record_with_the_peers_text_masked(records, status) -> None:
    records.fail("/records", status=status, body={"message": f"student {BSN} has no valid crebo"})
    outcomes = _target(records.url).write([_item(1), _item(2)])
    assert isinstance(outcomes[0].error, RecordError) and outcomes[1].ok
    text = str(outcomes[0].error)
    assert "no valid crebo" in text and BSN not in text and "*****2333" in text
    assert outcomes[0].error.code == str(status)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_stop_the_run(records, status) -> None:
    records.fail("/records", status=status, body={"message": "invalid key"})
    with pytest.raises(ConfigError):
        _target(records.url).write([_item()])


def test_source_faults_map_the_same_way(peer) -> None:
    spec = plugin.source_spec.model_validate({"type": "rest", "path": "items", "key": "id"})
    source = plugin.create_source(spec, context(peer.url))
    peer.fail("/items", status=200, body=b"[{", headers={"Content-Type": "application/json"})
    with pytest.raises(TransientError):
        list(source.read(None))
    peer.fail("/items", status=404, body={"message": "no such list"})
    with pytest.raises(RecordError):
        list(source.read(None))
