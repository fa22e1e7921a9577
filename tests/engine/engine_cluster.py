"""Daemons on a throwaway PostgreSQL cluster, for the outage and bounce tests and bench/bench_bounce.py.

A Daemons object starts engine_cluster_worker.py processes (each a full daemon: realtime loops,
scheduler, HTTP server with /readyz) on one database of a PgCluster, writes SIS changes with
plain SQL, and reads back what the state database says (runs, cursors, leases).
"""

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

WORKER = Path(__file__).with_name("engine_cluster_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    return None


class Daemon:
    def __init__(self, root: Path, url: str, target_url: str, env: dict[str, str], name: str) -> None:
        self.root, self.url, self.target_url, self.env, self.name = root, url, target_url, env, name
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = root / f"{name}.log"

    def start(self) -> Daemon:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "KOPPEL_SIS_URL": self.url, "KOPPEL_STATE_URL": self.url,
               **self.env}
        self.port = free_port()
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen([sys.executable, str(WORKER), str(self.root), self.url, str(self.port),
                                          self.target_url], env=env, stdout=log, stderr=log)
        return self

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> tuple[int, dict] | None:
        """(status, body) of /readyz; None when the daemon does not answer."""
        try:
            r = httpx.get(f"{self.base}/readyz", timeout=2)
            return r.status_code, r.json()
        except (httpx.HTTPError, ValueError):
            return None

    def wait_ready(self, timeout: float = 30) -> None:
        if not wait_for(lambda: (self.ready() or (0,))[0] == 200, timeout, every=0.1):
            raise AssertionError(f"daemon {self.name} not ready: {self.ready()}\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 60) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return None
        return self.proc.returncode if self.proc else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def terminate_all(daemons: list[Daemon], timeout: float = 60) -> None:
    """SIGTERM to every live daemon at once, then wait for each (they drain in parallel, not one
    after the other); one still running after ``timeout`` is killed."""
    stopping = [d for d in daemons if d.alive]
    for d in stopping:
        d.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for d in stopping:
        try:
            d.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            d.proc.kill()
            d.proc.wait(timeout=10)


class Database:
    """Plain SQL on the shared database: SIS changes in, state out."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, pool_pre_ping=True)

    def upsert_people(self, numbers: list[str], version: int) -> None:
        """Insert or update people: last_name carries the version, so arrivals can be ordered."""
        with self.engine.begin() as c:
            for n in numbers:
                c.execute(text("INSERT INTO person (person_number, last_name) VALUES (:n, :v) "
                               "ON CONFLICT (person_number) DO UPDATE SET last_name = :v"),
                          {"n": n, "v": f"v{version:05d}"})

    def people(self, numbers: list[str]) -> int:
        """How many of ``numbers`` the database holds: an outage test's check on its own harness."""
        with self.engine.connect() as c:
            return c.execute(text("SELECT count(*) FROM person WHERE person_number = ANY(:n)"),
                             {"n": list(numbers)}).scalar()

    def runs(self, interface_id: int | None = None) -> list[dict]:
        q = "SELECT id, interface_id, trigger, run_key, outcome, holder, started_at, ended_at, delivered FROM koppel_runs"
        with self.engine.connect() as c:
            rows = c.execute(text(q + (" WHERE interface_id = :i" if interface_id is not None else "") + " ORDER BY id"),
                             {"i": interface_id}).mappings().all()
        return [dict(r) for r in rows]

    def running(self) -> list[dict]:
        return [r for r in self.runs() if r["outcome"] == "running"]

    def cursor(self, interface_id: int) -> str | None:
        with self.engine.connect() as c:
            return c.execute(text("SELECT cursor FROM koppel_cursors WHERE interface_id = :i"), {"i": interface_id}).scalar()

    def dead_letters(self) -> list[tuple]:
        with self.engine.connect() as c:
            return [tuple(r) for r in c.execute(text(
                "SELECT source_key, error_class, left(reason, 120) FROM koppel_dead_letters ORDER BY id"))]

    def max_seq(self) -> int:
        with self.engine.connect() as c:
            return c.execute(text("SELECT coalesce(max(seq), 0) FROM outbox")).scalar()

    def owner(self, interface_id: int) -> str | None:
        with self.engine.connect() as c:
            return c.execute(text("SELECT holder FROM koppel_leases WHERE name = :n AND expires_at > now()"),
                             {"n": f"owner:interface:{interface_id}"}).scalar()

    def close(self) -> None:
        self.engine.dispose()


def versions_by_key(state) -> dict[str, list[int]]:
    """Source key → the versions (last_name v00012 → 12) in the order the target applied them."""
    out: dict[str, list[int]] = {}
    with state.lock:
        arrivals = list(state.arrivals)
    for _, item in arrivals:
        payload = item.get("payload") or {}
        name = payload.get("last_name") if isinstance(payload, dict) else None
        if isinstance(name, str) and name.startswith("v"):
            out.setdefault(item.get("source_key"), []).append(int(name[1:]))
    return out
