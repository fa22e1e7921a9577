"""At-least-once under SIGKILL: a run is killed at random moments and restarted.

Afterwards every record reached the target at least once, none was applied twice by the target
(which checks idempotency keys), and the cursor and the run history agree. Outcomes are durable
in steps of ``delivery.commit_every`` records within a batch (runtime/engine/checkpoint.py), so
a kill re-sends at most one step and kills faster than one batch still move the cursor.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import engine_http
import engine_sqlrows

from tests.scale import scaled

WORKER = Path(__file__).with_name("engine_crash_worker.py")
# records of the random-kill runs: 50 000 at full scale (KOPPEL_TEST_SCALE=full), fewer in CI; a
# kill comes after a random further distance of up to REACH records, so that all five land
# mid-run at any size
N = scaled(12_000, 50_000, env="KOPPEL_CRASH_RECORDS")
REACH = min(8_000, N // 6)


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_and_applies_nothing_twice(tmp_path):
    _crash_test(tmp_path, f"sqlite:///{tmp_path / 'state.db'}")


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_with_state_on_postgresql(tmp_path, pg_url):
    _crash_test(tmp_path, pg_url)


def _crash_test(tmp_path, state_url: str) -> None:
    state = engine_http.TargetState(transient_fraction=0.05)
    server, url = engine_http.start_server(state)
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    engine_sqlrows.create_table(source_url, N)
    args = [sys.executable, str(WORKER), str(tmp_path), state_url, source_url, url]
    env = _worker_env()
    rng = random.Random(int(os.environ.get("KOPPEL_CRASH_SEED", "2026")))
    kills = 0
    positions: list = []
    try:
        for kill in range(5):
            # kill once the run has gone a random distance further, at a random moment after that
            # (mid-batch, mid-request, mid-commit): progress-based, so a slow machine still tests
            # it; the k-th goal stays below k/6 of the records, and the moment after it is short
            # (the engine sends ~20k records a second), so a fast run is still killed five times
            start = int(_cursor(state_url) or 0)
            goal = min(start + rng.randint(200, REACH), N * (kill + 1) // 6)
            proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline and int(_cursor(state_url) or 0) < goal:
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 0.05))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
            positions.append(_cursor(state_url))
        final = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
        assert final.returncode == 0, final.stderr[-2000:]
        assert final.stdout.split()[0] == "ok"
    finally:
        server.shutdown()

    assert kills >= 4
    # every record delivered at least once, none applied twice
    assert len(state.source_keys) == N
    assert set(state.source_keys.values()) == {1}
    # the cursor and the run history agree: every record read exactly once by a recorded batch
    db = create_engine(state_url)
    with db.connect() as c:
        cursor = c.execute(text("SELECT cursor FROM koppel_cursors WHERE interface_id = 1")).scalar()
        read = c.execute(text("SELECT SUM(read) FROM koppel_runs WHERE interface_id = 1")).scalar()
        delivered = c.execute(text("SELECT COUNT(*) FROM koppel_deliveries WHERE status = 'delivered'")).scalar()
        outcomes = dict(c.execute(text("SELECT outcome, COUNT(*) FROM koppel_runs GROUP BY outcome")).all())
        running = c.execute(text("SELECT COUNT(*) FROM koppel_runs WHERE outcome = 'running'")).scalar()
    db.dispose()
    assert cursor == str(N)
    assert read == N
    assert delivered == N
    assert running == 0 and outcomes.get("crashed", 0) >= 1  # a kill during start-up leaves no run
    print(f"\ncrash test: {kills} kills, {state.duplicates} repeats dropped by the target's idempotency check, "
          f"{state.failed_requests} transient failures, runs {outcomes}, cursor after each kill {positions}")
    assert len({p for p in positions if p and p != str(N)}) >= 3  # killed mid-run, at different places


def _worker_env(**extra: str) -> dict:
    # a killed worker's lease must expire soon: the next worker waits for it (lease.py)
    return {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "KOPPEL_LEASE_TTL": "1.5", **extra}


STEP = 50  # commit_every
FAST_N = 2500
KILLS = 4


@pytest.mark.slow
@pytest.mark.postgres
def test_kills_faster_than_a_batch_resend_at_most_one_step_and_the_cursor_advances(tmp_path, pg_url):
    # batches of 500, kills after fewer new arrivals than a batch: before checkpoints every kill
    # re-sent its whole batch and the cursor never moved. Checked here without transient
    # failures, where the bound is exact. With the target failing 5% of its calls, a kill left two
    # steps unrecorded and the cursor where it was in one of four full runs on the lead's machine
    # (cursors [.., 350, 350, ..], 100 re-sent by the next worker), never in runs of this file
    # alone. Known causes: a record cursor never passes a record waiting for its retry (a kill
    # before the retry leaves the cursor where it was, the steps after it in the ledger), and
    # Checkpoint.room does not count the records waiting for a retry (test_engine_steps.py: a
    # strict xfail shows 2x commit_every at risk); the 100 are not fully explained (this target
    # refuses before applying), kept open in the closing note. The two tests above kill with
    # transient failures: nothing lost, nothing applied twice.
    state = engine_http.TargetState(transient_fraction=0.0)
    server, url = engine_http.start_server(state)
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    engine_sqlrows.create_table(source_url, FAST_N)
    args = [sys.executable, str(WORKER), str(tmp_path), pg_url, source_url, url]
    env = _worker_env(KOPPEL_CRASH_BATCH="500", KOPPEL_CRASH_COMMIT_EVERY=str(STEP))
    rng = random.Random(int(os.environ.get("KOPPEL_CRASH_SEED", "2026")))
    cursors, repeats = [int(_cursor(pg_url) or 0)], []
    try:
        for _ in range(KILLS):
            arrived, before = len(state.applied), state.duplicates
            goal = arrived + rng.randint(80, 400)  # fewer than one batch
            log = open(tmp_path / f"worker-{len(cursors)}.log", "w")  # noqa: SIM115 - closed after the kill
            proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=log)
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline and len(state.applied) < goal:
                time.sleep(0.005)
            assert proc.poll() is None, "the worker ended before it was killed"
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            log.close()
            _settled(state)  # a write the killed worker had sent lands now: not the next worker's
            cursors.append(int(_cursor(pg_url) or 0))
            repeats.append(state.duplicates - before)
        final = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stderr[-2000:]
        assert final.stdout.split()[0] == "ok"
    finally:
        server.shutdown()
    print(f"\nfast kills: cursor after each {cursors[1:]}, repeats sent by each restart {repeats}, "
          f"repeats in all {state.duplicates}")
    assert len(state.source_keys) == FAST_N and set(state.source_keys.values()) == {1}  # 0 lost
    logs = "".join(f"--- worker {n}\n" + (tmp_path / f"worker-{n}.log").read_text()[-3000:] for n in range(1, KILLS + 1))
    assert all(b > a for a, b in itertools.pairwise(cursors)), (cursors, logs)  # every kill: progress
    # what a restart sends again is what the kill before it had not recorded: at most one step
    # (repeats[0] is the first worker's own: none; each later run re-sends the previous kill's)
    assert repeats[0] == 0
    assert max(repeats) <= STEP and state.duplicates <= STEP * (KILLS + 1), repeats
    assert int(_cursor(pg_url)) == FAST_N


def _settled(state, quiet: float = 0.3, limit: float = 5.0) -> None:
    """Wait until the target has had no request for ``quiet`` seconds. A killed worker's last
    write (up to a step of items in one request) can still be in the server's hands when the
    process is gone; counted as the next worker's arrivals it would let the test kill that
    worker before it finished a step of its own (the cursor then stays: seen once under load)."""
    deadline, seen, since = time.monotonic() + limit, state.requests, time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if state.requests != seen:
            seen, since = state.requests, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def _cursor(state_url: str):
    db = create_engine(state_url)
    try:
        with db.connect() as c:
            return c.execute(text("SELECT cursor FROM koppel_cursors WHERE interface_id = 1")).scalar()
    except Exception:
        return None
    finally:
        db.dispose()
