"""The whole college on one machine, for the end-to-end tests of the 28 interfaces.

A session-wide copy of the project whose sandbox ports are all free ports, a seeded SIS store
(SQLite, in the copy's var/), every stand-in of the sandbox, and Koppel's own webhook server.
Tests drive interfaces through the same Engine that `koppel run` uses, and look at what the
stand-ins received and what the SIS store holds afterwards.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.liveserver import AppServer, free_port

ROOT = Path(__file__).resolve().parents[2]
STUDENTS = 40


def copy_project(target: Path) -> None:
    for name in ("catalog.yaml", "interfaces", "mappings", "contracts", "sandbox/secrets"):
        src = ROOT / name
        dst = target / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy(src, dst)


def rewrite_ports(catalog: Path) -> dict[int, int]:
    """Every 127.0.0.1 port in the catalog becomes a free one (the same port keeps one number)."""
    text = catalog.read_text(encoding="utf-8")
    ports = sorted({int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", text)} | {2222})
    mapping = {p: free_port() for p in ports}
    text = re.sub(r"127\.0\.0\.1:(\d+)", lambda m: f"127.0.0.1:{mapping[int(m.group(1))]}", text)
    text = re.sub(r"(\n\s+port: )2222\b", lambda m: f"{m.group(1)}{mapping[2222]}", text)
    catalog.write_text(text, encoding="utf-8")
    return mapping


@dataclass
class College:
    root: Path
    sis_url: str
    engine: object
    sandbox: object
    koppel_port: int

    def run(self, interface_id: int, trigger: str = "manual"):
        return self.engine.run_interface(interface_id, trigger=trigger)

    def received(self, system: str, kind: str | None = None) -> list[dict]:
        items = list(self.sandbox.context(system).received.items)
        return [i for i in items if kind is None or i.get("kind") == kind]

    def sql(self, statement: str, **params) -> list[tuple]:
        import sqlalchemy as sa

        engine = sa.create_engine(self.sis_url)
        try:
            with engine.begin() as conn:
                result = conn.execute(sa.text(statement), params)
                return list(result) if result.returns_rows else []
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def college(tmp_path_factory, monkeypatch_session) -> College:
    if shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists():
        pytest.skip("OpenSSH sshd is not installed (.ci/install-sshd.sh installs it)")
    for name in ("KOPPEL_SIS_URL", "KOPPEL_STATE_URL", "KOPPEL_VAR_DIR", "KOPPEL_DOCUMENTS_DIR"):
        monkeypatch_session.delenv(name, raising=False)
    from runtime.paths import specs_dir  # the copy is not beside shared/: point ${specs} at it

    monkeypatch_session.setenv("KOPPEL_SPECS_DIR", str(specs_dir(ROOT)))

    from runtime.engine import Engine
    from runtime.engine.server import create_app
    from runtime.project import load_project
    from runtime.settings import documents_dir, sis_url
    from runtime.sis import schema
    from runtime.sis.seed import seed_store
    from sandbox.runner import Sandbox

    root = tmp_path_factory.mktemp("college")
    copy_project(root)
    catalog = (root / "catalog.yaml").read_text(encoding="utf-8")
    url = sis_url(root)
    schema.init(url)
    seed_store(url, students=STUDENTS, seed=7, documents_dir=documents_dir(root))
    # A free port can be taken by another process before the stand-in binds it: try again.
    for attempt in range(3):
        (root / "catalog.yaml").write_text(catalog, encoding="utf-8")
        ports = rewrite_ports(root / "catalog.yaml")
        project = load_project(root).require_valid()
        engine = Engine(project, environment="sandbox")
        # Signhost's signer acts 0.2 s after a transaction starts (default 1 s): interface 14's
        # postbacks reach Koppel's server within the test
        sandbox = Sandbox(root, students=STUDENTS, options={"signhost": {"sign_delay": 0.2}}).start()
        if "already in use" in str(sandbox.skipped) and attempt < 2:
            sandbox.stop()
            continue
        break
    assert not sandbox.skipped, sandbox.skipped
    try:
        with AppServer(create_app(engine), ports[8470]):
            yield College(root, url, engine, sandbox, ports[8470])
    finally:
        sandbox.stop()


@pytest.fixture(scope="session")
def monkeypatch_session():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()
