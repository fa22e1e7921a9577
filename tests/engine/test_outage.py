"""A database outage does not stop a realtime interface: a daemon on a throwaway PostgreSQL
cluster, stopped with ``-m immediate`` during a drain and again while idle.

Properties: changes made after the database returns arrive without a restart of the daemon,
/readyz answered 503 (naming the interface) during the outage and 200 after, nothing written
before the outage is lost, and no run is left ``running``. The outage lasts
KOPPEL_OUTAGE_SECONDS (default 4 s here; the issue's figure is for 15 s:
``KOPPEL_OUTAGE_SECONDS=15 pytest tests/engine/test_outage.py -s`` prints the recovery time).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import engine_http
import pytest
from engine_cluster import Daemon, Database, wait_for

sys.path.insert(0, str(Path(__file__).parents[1] / "faultkit"))
from pgcluster import PgCluster

pytest.importorskip("plugins.sis.source", reason="the sis plugin is not in this tree")
pytestmark = [pytest.mark.postgres, pytest.mark.slow]

OUTAGE = float(os.environ.get("KOPPEL_OUTAGE_SECONDS", "4"))


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
        down = time.monotonic()
        with cluster.outage():
            time.sleep(OUTAGE)
            up = time.monotonic()
        back = [f"Q{i:04d}" for i in range(50)]
        db.upsert_people(back, 2)
        recovered = wait_for(lambda: all(k in state.source_keys for k in back) and time.monotonic(), 60)
        assert recovered, f"changes after the outage did not arrive: {daemon.ready()}"
        assert all(k in state.source_keys for k in first), "a change written before the outage was lost"
        during = probe.between(down + 1.0, up - 0.5)
        assert during and all(status in (503, None) for _, status, _ in during), during
        reasons = [body for _, status, body in during if status == 503]
        assert reasons and all(not body["interfaces"]["24"]["ready"] or body["state_database"] != "ok"
                               for body in reasons)
        assert any(body["interfaces"]["24"].get("reason", "").startswith("loop down") for body in reasons)
        print(f"\noutage of {OUTAGE:.0f} s during a drain: a change made after it arrived "
              f"{recovered - up:.1f} s after the database returned")

        # 2. an outage while idle
        assert wait_for(lambda: (daemon.ready() or (0,))[0] == 200, 30), daemon.ready()
        with cluster.outage():
            time.sleep(OUTAGE)
            up = time.monotonic()
        idle = [f"R{i:04d}" for i in range(20)]
        db.upsert_people(idle, 3)
        recovered = wait_for(lambda: all(k in state.source_keys for k in idle) and time.monotonic(), 60)
        assert recovered, f"changes after the idle outage did not arrive: {daemon.ready()}"
        print(f"outage of {OUTAGE:.0f} s while idle: {recovered - up:.1f} s")
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
