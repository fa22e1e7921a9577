"""A database outage does not stop a realtime interface: a daemon on a throwaway PostgreSQL
cluster, stopped with ``-m immediate`` during a drain and again while idle.

Properties: changes made after the database returns arrive without a restart of the daemon,
/readyz answered 503 (naming the interface) during the outage and 200 after, nothing written
before the outage is lost, and no run is left ``running``. The outage lasts
KOPPEL_OUTAGE_SECONDS (4 s in CI; 15 s, the issue's figure, at KOPPEL_TEST_SCALE=full:
``KOPPEL_TEST_SCALE=full pytest tests/engine/test_outage.py -s`` prints the recovery time).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import engine_http
import pytest
from engine_cluster import Daemon, Database, wait_for

sys.path.insert(0, str(Path(__file__).parents[1] / "faultkit"))
from pgcluster import PgCluster

from tests.scale import scaled

pytest.importorskip("plugins.sis.source", reason="the sis plugin is not in this tree")
pytestmark = [pytest.mark.postgres, pytest.mark.slow]

OUTAGE = scaled(4.0, 15.0, env="KOPPEL_OUTAGE_SECONDS")


class ReadinessProbe(threading.Thread):
    """Asks /readyz every 0.2 s and keeps (time, status, body) of every answer."""

    def __init__(self, daemon: Daemon) -> None:
        super().__init__(daemon=True)
        self.target, self.answers, self.halt = daemon, [], threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.2):
            answer = self.target.ready()
            self.answers.append((time.monotonic(), *(answer or (None, None))))

    def between(self, start: float, end: float) -> list[tuple]:
        return [a for a in self.answers if start <= a[0] <= end]


def _outage_then_changes(cluster, db, state, daemon, probe, prefix: str, version: int) -> float:
    """Stop the database for OUTAGE seconds, then write 30 changes: the seconds from its return
    until all arrived. /readyz must have answered 503, naming interface 24's loop, meanwhile."""
    down = time.monotonic()
    with cluster.outage():
        time.sleep(OUTAGE)
        up = time.monotonic()
    keys = [f"{prefix}{i:04d}" for i in range(30)]
    db.upsert_people(keys, version)
    recovered = wait_for(lambda: all(k in state.source_keys for k in keys) and time.monotonic(), 60)
    assert recovered, f"changes after the outage did not arrive: {daemon.ready()}"
    during = probe.between(down + 1.0, up - 0.5)
    assert during and all(status in (503, None) for _, status, _ in during), during
    bodies = [body for _, status, body in during if status == 503]
    assert bodies and all(body["state_database"].startswith("unreachable") for body in bodies)
    assert any(body["interfaces"]["24"].get("reason", "").startswith("loop down") for body in bodies)
    return recovered - up


def test_realtime_interface_survives_database_outages(tmp_path):
    state = engine_http.TargetState()
    server, target_url = engine_http.start_server(state)
    cluster = PgCluster().start()
    daemon = None
    try:
        url = cluster.create_database("koppel")
        from runtime.sis import schema

        schema.init(url)
        db = Database(url)
        daemon = Daemon(tmp_path, url, target_url, {"KOPPEL_LEASE_TTL": "6"}, "d1").start()
        daemon.wait_ready()
        assert wait_for(lambda: db.cursor(24) is not None, 20), "the outbox interface did not pin its cursor"
        probe = ReadinessProbe(daemon)
        probe.start()

        # 1. an outage in the middle of a drain
        first = [f"P{i:04d}" for i in range(300)]
        db.upsert_people(first, 1)
        assert wait_for(lambda: len(state.source_keys) >= 20, 30), "the drain did not start"
        seconds = _outage_then_changes(cluster, db, state, daemon, probe, "Q", 2)
        # the harness first: a change the database itself forgot is not the engine's loss
        assert db.people(first) == len(first), "the throwaway cluster lost acknowledged commits"
        lost = [k for k in first if k not in state.source_keys]
        assert lost == [], (f"{len(lost)} change(s) written before the outage lost: {lost[:10]}; "
                            f"dead letters {db.dead_letters()}; runs {[(r['id'], r['outcome'], r['delivered']) for r in db.runs(24)]}")
        print(f"\noutage of {OUTAGE:.0f} s during a drain: a change made after it arrived {seconds:.1f} s "
              "after the database returned")

        # 2. an outage while idle
        assert wait_for(lambda: (daemon.ready() or (0,))[0] == 200, 30), daemon.ready()
        seconds = _outage_then_changes(cluster, db, state, daemon, probe, "R", 3)
        print(f"outage of {OUTAGE:.0f} s while idle: {seconds:.1f} s")
        assert wait_for(lambda: (daemon.ready() or (0,))[0] == 200, 30), daemon.ready()
        probe.halt.set()

        assert wait_for(lambda: not db.running(), 20), db.running()
        outcomes = {r["outcome"] for r in db.runs(24)}
        assert outcomes <= {"ok", "interrupted", "error", "crashed"}, outcomes
        assert daemon.terminate() == 0
        assert db.running() == []
        db.close()
    finally:
        if daemon is not None:
            daemon.kill()
        cluster.destroy()
        server.shutdown()
