"""The sandbox data layer: Datalaag and MIP schemas, on SQLite (attached files) and PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3

import psycopg
import pytest

from plugins.db.source import TableSource
from plugins.db.spec import DbSource, DbTarget
from plugins.db.target import TableTarget
from sandbox.databases import create, drop, locations

from .conftest import context, replicate


@pytest.fixture()
def project(tmp_path, project_root):
    shutil.copy(project_root / "catalog.yaml", tmp_path / "catalog.yaml")
    return tmp_path


def test_sqlite_schemas_are_attached_files_with_typed_replica_tables(project, monkeypatch):
    monkeypatch.setenv("KOPPEL_VAR_DIR", str(project / "var"))
    where = create(project)
    assert set(where) == {"datalaag", "mip"}
    assert where["mip"].endswith("var/datalaag.mip.db")
    with sqlite3.connect(where["datalaag"]) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"student", "enrollment", "person"} <= tables and "outbox" not in tables
        assert db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").fetchone() == (0,)
    assert create(project) == where, "create is idempotent"
    drop(project)
    assert not any((project / "var").glob("datalaag.*.db"))


def test_replication_into_the_sandbox_datalaag_with_a_view(project, tmp_path):
    sis = tmp_path / "sis.db"
    with sqlite3.connect(sis) as db:
        db.execute("CREATE TABLE course (code TEXT PRIMARY KEY, title TEXT, updated_at DATETIME)")
        db.executemany("INSERT INTO course VALUES (?, ?, '2026-01-01 00:00:00')", [("A", "Zorg"), ("B", "ICT")])
    create(project, tables=False)
    spec = DbTarget.model_validate({"type": "db", "system": "datalaag", "schema": "datalaag",
                                    "keys": {"course": ["code"]},
                                    "views": {"iam_courses": "SELECT code, title FROM course"}})
    target = TableTarget(spec, context(project, "sqlite:///var/datalaag.db", name="datalaag"))
    source = TableSource(DbSource(type="db", tables=[{"name": "course", "key": ["code"]}]),
                         context(project, f"sqlite:///{sis}", name="sis"))
    replicate(source, target)
    path = locations(project)["datalaag"]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT code, title FROM iam_courses ORDER BY code").fetchall() == [("A", "Zorg"), ("B", "ICT")]


@pytest.mark.postgres
def test_postgres_schemas(project, pg_url):
    where = create(project, url=pg_url)
    assert where["mip"].endswith("schema mip")
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        found = conn.execute("SELECT table_schema, count(*) FROM information_schema.tables "
                             "WHERE table_schema IN ('datalaag', 'mip') GROUP BY 1 ORDER BY 1").fetchall()
    assert [s for s, _ in found] == ["datalaag", "mip"] and found[0][1] >= 20
    drop(project, url=pg_url)
