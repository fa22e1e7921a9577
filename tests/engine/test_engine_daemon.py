"""The daemon: health and readiness endpoints, metrics, and a graceful drain on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

WORKER = Path(__file__).with_name("engine_daemon_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_drains_in_flight_run_and_records_it(tmp_path):
    port = _free_port()
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.Popen([sys.executable, str(WORKER), str(tmp_path), state_url, str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        time.sleep(1.0)  # the poll interface is now mid-run (100,000 records, slowly)
        metrics = httpx.get(f"{base}/metrics").text
        assert 'koppel_records_total{interface="22",stage="delivered"}' in metrics
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert '"msg": "drained"' in err
    db = create_engine(state_url)
    with db.connect() as c:
        run = c.execute(text("SELECT outcome, read, delivered FROM koppel_runs")).one()
        cursor = c.execute(text("SELECT cursor FROM koppel_cursors")).scalar()
    db.dispose()
    assert run.outcome == "stopped" and 0 < run.read < 100_000
    assert cursor == str(run.read) and run.delivered == run.read  # recorded up to the last batch
