"""A small college for the console tests: the project copied with free ports, a seeded SIS
store, the Intergrip stand-in, and interface 11 (application status → Intergrip) run for real:
two changes delivered, one refused by the stand-in (a dead letter of class record).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox.console_users import SANDBOX_LOGINS
from tests.e2e.conftest import copy_project, rewrite_ports

STUDENTS = 30


@dataclass
class ConsoleCollege:
    root: Path
    sis_url: str
    engine: object
    sandbox: object
    app: object
    delivered: list[str]  # aanmeldIds delivered by interface 11
    refused: str  # the aanmeldId the stand-in refused (open dead letter)
    intergrip: str = ""  # the stand-in's base URL
    changed: set = None  # aanmeldIds changed by tests since

    def sql(self, statement: str, **params) -> list[tuple]:
        import sqlalchemy as sa

        engine = sa.create_engine(self.sis_url)
        try:
            with engine.begin() as conn:
                result = conn.execute(sa.text(statement), params)
                return list(result) if result.returns_rows else []
        finally:
            engine.dispose()

    def change(self, refuse: bool = False, status: str = "onderwijsovereenkomst_aangeboden") -> str:
        """One more application's status changed and interface 11 run; with ``refuse`` the
        Intergrip stand-in refuses it (HTTP 422), so it becomes an open dead letter. Its aanmeldId."""
        import httpx

        used = set(self.delivered) | {self.refused} | self.changed
        aid, current = next(r for r in self.sql(
            "SELECT aanmeld_id, status FROM application WHERE previous_school_brin IS NOT NULL "
            "ORDER BY aanmeld_id") if r[0] not in used)
        self.changed.add(aid)
        if refuse:
            httpx.post(f"{self.intergrip}/_sandbox/faults", json={"mode": "reject", "match": aid}).raise_for_status()
        status = status if status != current else "ingetrokken"
        self.sql("UPDATE application SET status = :s WHERE aanmeld_id = :a", s=status, a=aid)
        summary = self.engine.run_interface(11, trigger="outbox")
        assert (summary.delivered, summary.dead) == ((0, 1) if refuse else (1, 0)), summary
        return aid

    def dead_letter_of(self, aid: str) -> int:
        return next(d["id"] for d in self.engine.store.dead_letters(interface_id=11) if d["source_key"] == aid)

    def bsns(self) -> set[str]:
        return {r[0] for r in self.sql("SELECT bsn FROM person WHERE bsn IS NOT NULL")}


@pytest.fixture(scope="session")
def console_college(tmp_path_factory) -> ConsoleCollege:
    import httpx

    from runtime.engine import Engine
    from runtime.engine.server import create_app
    from runtime.project import load_project
    from runtime.settings import documents_dir, sis_url
    from runtime.sis import schema
    from runtime.sis.seed import seed_store
    from sandbox.runner import Sandbox

    mp = pytest.MonkeyPatch()
    for name in ("KOPPEL_SIS_URL", "KOPPEL_STATE_URL", "KOPPEL_VAR_DIR", "KOPPEL_DOCUMENTS_DIR"):
        mp.delenv(name, raising=False)
    root = tmp_path_factory.mktemp("console-college")
    copy_project(root)
    ports = rewrite_ports(root / "catalog.yaml")
    url = sis_url(root)
    schema.init(url)
    seed_store(url, students=STUDENTS, seed=11, documents_dir=documents_dir(root))
    project = load_project(root).require_valid()
    sandbox = Sandbox(root, names=["intergrip"], include_services=False, students=STUDENTS).start()
    engine = Engine(project, environment="sandbox")
    try:
        college = ConsoleCollege(root, url, engine, sandbox, create_app(engine), [], "")
        engine.run_interface(11, trigger="outbox")  # subscribes: the outbox position is recorded
        ids = [r[0] for r in college.sql(
            "SELECT aanmeld_id FROM application WHERE previous_school_brin IS NOT NULL AND status = 'aangemeld' "
            "ORDER BY aanmeld_id LIMIT 3")]
        assert len(ids) == 3, ids
        from urllib.parse import urlsplit

        base = urlsplit(sandbox.running["intergrip"].url)
        intergrip = f"{base.scheme}://{base.netloc}"
        httpx.post(f"{intergrip}/_sandbox/faults", json={"mode": "reject", "match": ids[2]}).raise_for_status()
        for aid in ids:
            college.sql("UPDATE application SET status = 'onderwijsovereenkomst_aangeboden' WHERE aanmeld_id = :a", a=aid)
        summary = engine.run_interface(11, trigger="outbox")
        assert (summary.delivered, summary.dead) == (2, 1), summary
        college.delivered, college.refused = ids[:2], ids[2]
        college.intergrip, college.changed = intergrip, set()
        college.ports = ports
        yield college
    finally:
        sandbox.stop()
        engine.close()
        mp.undo()


@pytest.fixture
def client(console_college):
    from starlette.testclient import TestClient

    with TestClient(console_college.app, base_url="http://127.0.0.1:8470") as c:
        yield c


def sign_in(client, name: str) -> None:
    """Sign in through the form, as a browser would (the form's CSRF token included)."""
    import re

    page = client.get("/ui/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    response = client.post("/ui/login", data={"csrf": token, "name": name, "password": SANDBOX_LOGINS[name][1],
                                              "next": "/ui/"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/ui/"


def csrf_of(client) -> str:
    import re

    return re.search(r'name="csrf" value="([^"]+)"', client.get("/ui/").text).group(1)
