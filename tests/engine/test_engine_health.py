"""/readyz tells the truth: each loop's verdict, the body naming interfaces and reasons, metrics."""

from __future__ import annotations

import types

from runtime.engine.health import Health, verdict
from runtime.engine.loopstatus import LoopStatus
from runtime.engine.metrics import Metrics
from runtime.engine.server import DaemonState


def _status(**values) -> LoopStatus:
    s = LoopStatus(24, "outbox")
    for k, v in values.items():
        setattr(s, k, v)
    return s


def test_a_loop_backing_off_is_not_ready_and_says_why():
    s = LoopStatus(24, "outbox")
    s.failed(ConnectionRefusedError("connection refused"))
    s.failed(ConnectionRefusedError("connection refused"))
    assert verdict(s, 300) == "loop down after 2 failure(s): ConnectionRefusedError: connection refused"
    s.ran()
    assert verdict(s, 300) is None and s.failures == 0 and s.last_error is None


def test_an_owner_with_an_old_backlog_is_not_ready():
    assert verdict(_status(owner=True, lag_seconds=301.0), 300) == "backlog 301 s old (limit 300 s)"
    assert verdict(_status(owner=True, lag_seconds=299.0), 300) is None


def test_a_standby_reports_lag_only_when_nobody_moves_it():
    delivering = _status(owner=False, holder="vm:1:abc", holder_alive=True, lag_seconds=400.0, stalled_seconds=3.0)
    assert verdict(delivering, 300) is None  # the owner moves the cursor: its own /readyz reports the backlog
    stuck = _status(owner=False, holder="vm:1:abc", holder_alive=True, lag_seconds=400.0, stalled_seconds=350.0)
    assert verdict(stuck, 300) == ("400 s behind and its owner vm:1:abc has not moved the cursor for 350 s "
                                   "(taken over when its lease expires)")
    orphan = _status(owner=False, holder=None, holder_alive=False, lag_seconds=400.0, stalled_seconds=1.0)
    assert verdict(orphan, 300) == "400 s behind and no live daemon holds it (taking it over)"


def test_a_failure_message_is_masked_and_one_line():
    s = LoopStatus(16, "outbox")
    s.failed(ValueError("record of 123456782 refused\nsecond line"))
    assert "123456782" not in s.last_error and "\n" not in s.last_error


def test_readyz_body_names_each_interface_and_the_invalid_files():
    class Store:
        def ping(self):
            return None

    down = LoopStatus(24, "outbox")
    down.failed(OSError("SIS store unreachable"))
    fine = LoopStatus(16, "outbox")
    fine.ran()
    realtime = types.SimpleNamespace(statuses=lambda: [down, fine])
    state = DaemonState()
    health = Health(types.SimpleNamespace(store=Store()), state, realtime=realtime,
                    invalid={"interfaces/26-x.yaml": "interfaces/26-x.yaml:3: unknown field 'x'"})
    status, body = health.report()
    assert status == 503 and body["status"] == "not ready" and body["state_database"] == "ok"
    assert body["interfaces"]["24"]["ready"] is False
    assert body["interfaces"]["24"]["reason"] == "loop down after 1 failure(s): OSError: SIS store unreachable"
    assert body["interfaces"]["16"] == {**body["interfaces"]["16"], "ready": True, "state": "running"}
    assert body["invalid"] == {"interfaces/26-x.yaml": "interfaces/26-x.yaml:3: unknown field 'x'"}
    down.ran()
    assert health.report()[0] == 200  # an invalid file alone does not fail readiness (decision in health.py)
    state.draining = True
    assert health.report() == (503, {"status": "draining"})
    metrics = Metrics()
    metrics.collectors.append(health.collect)
    text = metrics.render().decode()
    assert 'koppel_loop_up{interface="24",loop="outbox"} 1.0' in text
    assert 'koppel_definition_invalid{file="interfaces/26-x.yaml"} 1.0' in text


def test_readyz_fails_when_the_state_database_does_not_answer():
    class Down:
        def ping(self):
            raise ConnectionError("could not connect to server: password=secret")

    status, body = Health(types.SimpleNamespace(store=Down()), DaemonState()).report()
    assert status == 503 and body["state_database"] == "unreachable: ConnectionError"


def test_a_failed_scheduled_tick_is_reported_but_does_not_fail_readiness():
    class Store:
        def ping(self):
            return None

    tick = LoopStatus(15, "cron")
    tick.failed(TimeoutError("DUO did not answer"))
    scheduler = types.SimpleNamespace(statuses={15: tick})
    status, body = Health(types.SimpleNamespace(store=Store()), DaemonState(), scheduler=scheduler).report()
    assert status == 200
    assert body["interfaces"]["15"]["failures"] == 1 and body["interfaces"]["15"]["error"] == (
        "TimeoutError: DUO did not answer")
