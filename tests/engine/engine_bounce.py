"""The bounce scenario (as Kafka Connect runs them): N daemons on one throwaway PostgreSQL, one
killed with SIGKILL every few seconds and started again a second later, while SIS changes keep
coming; then the owner of the outbox interface is killed after a burst and not restarted.

``bounce(...)`` returns a BounceReport; tests/engine/test_bounce.py runs it small, and
bench/bench_bounce.py runs it at the issue's scale and prints the figures.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import engine_http
from engine_cluster import Daemon, Database, terminate_all, versions_by_key, wait_for


@dataclass
class BounceReport:
    keys: int = 0
    last_version: dict[str, int] = field(default_factory=dict)  # what the SIS holds at the end
    arrived: dict[str, list[int]] = field(default_factory=dict)  # versions in arrival order per key
    duplicates: int = 0
    kills: int = 0
    ticks_expected: list[str] = field(default_factory=list)  # interval (4) and cron (20) ticks
    ticks_ran: dict[str, int] = field(default_factory=dict)  # tick → completed runs
    resumed: int = 0
    takeover_seconds: float | None = None
    survivors_not_ready: bool = False
    survivor_reasons: list[str] = field(default_factory=list)
    left_running: list[dict] = field(default_factory=list)
    tick_runs: list[dict] = field(default_factory=list)  # every run of the interval interface
    kill_times: list[tuple[float, str]] = field(default_factory=list)
    log_tail: str = ""

    @property
    def lost(self) -> list[str]:
        return [k for k, v in self.last_version.items() if v not in self.arrived.get(k, [])]

    @property
    def reordered(self) -> list[str]:
        return [k for k, v in self.arrived.items() if v != sorted(v)]


def interval_ticks(every: float, start: float, end: float) -> list[str]:
    """Run keys of the interval ticks in (start, end) counted from the epoch (scheduler.py)."""
    origin = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) - dt.timedelta(hours=1)  # the epoch in Amsterdam (CET)
    first = int((start - origin.timestamp()) // every) + 1
    out = []
    n = first
    while origin.timestamp() + n * every < end:
        tick = dt.datetime.fromtimestamp(origin.timestamp() + n * every, dt.UTC)
        out.append(f"4@{tick.replace(tzinfo=None).isoformat(timespec='seconds')}Z")
        n += 1
    return out


def cron_minute_ticks(start: float, end: float) -> list[str]:
    """Run keys of an every-minute cron (interface 20) in (start, end): local Amsterdam wall time."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Amsterdam")
    minute = int(start // 60) + 1
    out = []
    while minute * 60 < end:
        local = dt.datetime.fromtimestamp(minute * 60, zone).replace(tzinfo=None)
        out.append(f"20@{local.isoformat(timespec='seconds')}")
        minute += 1
    return out


def bounce(cluster, tmp: Path, *, daemons: int = 3, seconds: float = 25, kill_every: float = 5,
           rate: float = 10, keys: int = 40, interval: float = 3, cron: str | None = None, ttl: float = 5,
           max_lag: float = 2, seed: int = 11) -> BounceReport:
    from runtime.sis import schema

    rng = random.Random(seed)
    report = BounceReport(keys=keys)
    state = engine_http.TargetState()
    server, target_url = engine_http.start_server(state)
    url = cluster.create_database("bounce")
    schema.init(url)
    db = Database(url)
    env = {"KOPPEL_LEASE_TTL": str(ttl), "KOPPEL_READY_MAX_LAG": str(max_lag), "KOPPEL_TEST_INTERVAL": str(interval),
           "KOPPEL_TEST_TICK_BATCHES": "3", "KOPPEL_TEST_TICK_DELAY": "0.3", **({"KOPPEL_TEST_CRON": cron} if cron else {})}
    crew = [Daemon(tmp, url, target_url, env, f"d{i}").start() for i in range(daemons)]
    numbers = [f"B{i:04d}" for i in range(keys)]
    version = {"n": 0}
    feeding = threading.Event()

    def feed() -> None:
        while not feeding.wait(1 / rate):
            version["n"] += 1
            key = rng.choice(numbers)
            db.upsert_people([key], version["n"])
            report.last_version[key] = version["n"]

    try:
        for d in crew:
            d.wait_ready(60)
        assert wait_for(lambda: db.cursor(24) is not None, 30), "the outbox interface did not start"
        start = time.time()
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(kill_every)
            victim = rng.choice(crew)
            victim.kill()
            report.kills += 1
            report.kill_times.append((time.time(), victim.name))
            time.sleep(1.0)
            victim.start()
        feeding.set()
        feeder.join()
        end = time.time()
        for d in crew:
            d.wait_ready(60)
        # every change delivered, then the stranded case
        assert wait_for(lambda: _delivered(report, state), 60), "changes not delivered after the bounce"
        report.takeover_seconds = _stranded(report, db, crew, state, numbers, version, rng, ttl)
        # ticks: let the last ones finish (at most interval + 2 s, as long as a tick may take to
        # start and run), then count the completed runs per tick. Waiting on that instead of
        # sleeping it out: a tick missing or still running after the bound is counted as before.
        report.ticks_expected = interval_ticks(interval, start + 1, end - 1)
        if cron:
            report.ticks_expected += cron_minute_ticks(start + 1, end - 1)

        def tick_runs() -> list[dict]:
            return db.runs(4) + (db.runs(20) if cron else [])

        def settled() -> bool:
            runs = tick_runs()
            done = {(r["run_key"] or "").split("~", 1)[0] for r in runs if r["outcome"] in ("ok", "partial")}
            return all(t in done for t in report.ticks_expected) and all(r["outcome"] != "running" for r in runs)

        wait_for(settled, interval + 2, every=0.2)
        report.tick_runs = tick_runs()
        for run in report.tick_runs:
            base = (run["run_key"] or "").split("~", 1)[0]
            if run["outcome"] in ("ok", "partial"):
                report.ticks_ran[base] = report.ticks_ran.get(base, 0) + 1
            report.resumed += run["trigger"] == "resume"
        # a run a killed daemon left 'running' must be finished by a survivor's sweep within its
        # lease plus two sweeps: wait until nothing runs (usually at once), at most that long; a
        # stale row still there afterwards is what left_running reports
        grace = ttl + 2 * max(1.0, ttl / 3) + 2
        wait_for(lambda: not db.running(), grace, every=0.2)
        live = {d.name for d in crew if d.alive}
        report.left_running = [r for r in db.running() if not live or _past_lease(db, r)]
        report.arrived = versions_by_key(state)
        report.duplicates = state.duplicates
    finally:
        terminate_all(crew, 30)
        report.log_tail = "\n".join(d.log.read_text()[-1500:] for d in crew)
        db.close()
        server.shutdown()
    return report


def _delivered(report: BounceReport, state) -> bool:
    arrived = versions_by_key(state)
    return all(v in arrived.get(k, []) for k, v in report.last_version.items())


def _past_lease(db: Database, run: dict) -> bool:
    from sqlalchemy import text

    with db.engine.connect() as c:
        alive = c.execute(text("SELECT 1 FROM koppel_leases WHERE name = :n AND holder = :h AND expires_at > now()"),
                          {"n": f"interface:{run['interface_id']}", "h": run["holder"]}).scalar()
    return not alive


def _stranded(report, db, crew, state, numbers, version, rng, ttl) -> float | None:
    """Kill the owner of interface 24, write a burst of changes and make no further change: the
    time until a survivor delivered the burst (the standbys ignore the burst's notifications: only
    the lease's expiry lets them take over). Notes whether a survivor's /readyz failed meanwhile."""
    holder = wait_for(lambda: db.owner(24), 10)
    owner = next((d for d in crew if holder and f":{d.proc.pid}:" in holder), None)
    if owner is None:
        return None
    owner.kill()  # first: else it may send the burst before it dies
    killed = time.monotonic()
    burst = numbers[:30]
    version["n"] += 1
    db.upsert_people(burst, version["n"])
    for k in burst:
        report.last_version[k] = version["n"]
    survivors = [d for d in crew if d is not owner]
    done = None
    while time.monotonic() - killed < ttl * 4 + 30:
        for d in survivors:
            answer = d.ready()
            if answer and answer[0] == 503:
                report.survivors_not_ready = True
                reason = answer[1].get("interfaces", {}).get("24", {}).get("reason")
                if reason:
                    report.survivor_reasons.append(reason)
        if _delivered(report, state):
            done = time.monotonic() - killed
            break
        time.sleep(0.1)
    owner.start()
    return done
