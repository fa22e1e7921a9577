"""Helpers of the inbound tests: a small real SIS store, Koppel's server on 127.0.0.1 (in a thread,
or as its own process so its resident memory can be measured), and calls signed as the
sandbox's senders sign them (sandbox/rest/webhooks.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Self

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
SCIM = "/scim/v2"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

#: the people of the small SIS: two students, a teacher, and a person without any account
PEOPLE = [("P100001", "Emma", None, "Jansen"), ("P100002", "Daan", "de", "Vries"),
          ("P200001", "Fatima", None, "El Amrani"), ("P300001", "Noah", "van", "Dijk")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_sis(url: str) -> None:
    """Only the tables these tests touch (person, staff, student, role_assignment), made from the
    SIS models: the inbound server reads and the sis target writes exactly these."""
    from runtime.sis import models

    db = sa.create_engine(url)
    tables = [models.Base.metadata.tables[t] for t in ("person", "staff", "student", "role_assignment")]
    models.Base.metadata.create_all(db, tables=tables)
    with db.begin() as c:
        for number, given, tussen, last in PEOPLE:
            c.execute(sa.text("INSERT INTO person (person_number, given_name, tussenvoegsel, last_name) "
                              "VALUES (:n, :g, :t, :l)"), {"n": number, "g": given, "t": tussen, "l": last})
        c.execute(sa.text("INSERT INTO staff (staff_number, person_number, function) VALUES ('M200001', 'P200001', 'docent')"))
        for student, person in (("S100001", "P100001"), ("S100002", "P100002")):
            c.execute(sa.text("INSERT INTO student (student_number, person_number, mentor_staff_number) "
                              "VALUES (:s, :p, 'M200001')"), {"s": student, "p": person})
        # the SIS's own role (source sis): an IAM closing the account must leave it alone
        c.execute(sa.text("INSERT INTO role_assignment (person_number, role, scope, source) "
                          "VALUES ('P100001', 'student', 'opleiding-25604', 'sis')"))
    db.dispose()


def query(url: str, statement: str, **params) -> list[tuple]:
    db = sa.create_engine(url)
    try:
        with db.begin() as c:
            result = c.execute(sa.text(statement), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        db.dispose()


def signed(secret: str, body: bytes, **options) -> dict[str, str]:
    from sandbox.rest.webhooks import standard_webhook_headers

    return {**standard_webhook_headers(secret, body, **options), "Content-Type": "application/json"}


def secret(name: str) -> str:
    return (ROOT / "sandbox" / "secrets" / name).read_text(encoding="utf-8").strip()


def inbox_count(state_url: str, interface_id: int) -> int:
    return query(state_url, "SELECT count(*) FROM koppel_inbox WHERE interface_id = :i", i=interface_id)[0][0]


class ThreadServer:
    """The real ASGI app under uvicorn on 127.0.0.1, in a thread of the test process."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, "uvicorn did not start"
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class ServerProcess:
    """``koppel serve`` for the real project (webhooks and realtime only, interfaces 3, 6 and 14),
    as its own process, so that its resident memory is its own."""

    def __init__(self, tmp: Path, sis_url: str, state_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "KOPPEL_SIS_URL": sis_url, "KOPPEL_STATE_URL": state_url,
                    "KOPPEL_VAR_DIR": str(tmp / "var"), "KOPPEL_ENV": "sandbox"}
        self.log = tmp / "server.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Self:
        command = [sys.executable, "-m", "runtime.cli.__main__", "--project", str(ROOT), "serve", "--no-scheduler",
                   "--only", "3,6,14", "--port", str(self.port)]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120  # loading the project takes a while on a busy machine
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("the server did not answer /healthz: " + self.log.read_text())

    def rss_kb(self) -> int:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def postgres_database():
    """A fresh PostgreSQL database on 127.0.0.1:5432 as (url, drop), or None when none runs."""
    import uuid

    import psycopg

    name = f"koppel_inbound_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True,
                                connect_timeout=3)
    except psycopg.OperationalError:
        return None
    admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()

    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", drop
