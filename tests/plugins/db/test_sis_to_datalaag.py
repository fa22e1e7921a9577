"""Interface 0's shape end to end: the real SIS store (seeded) replicated into the sandbox Datalaag."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from plugins.db.source import TableSource
from plugins.db.spec import DbSource, DbTarget
from plugins.db.target import TableTarget
from sandbox.databases import create, locations

from .conftest import context, replicate

OBJECTS = ["person", "student", "program", "offering", "enrollment", "enrollment_period", "membership", "exam_aid"]


@pytest.fixture(scope="module")
def sis_store(tmp_path_factory):
    from runtime.sis.models import natural_key
    from runtime.sis.schema import init
    from runtime.sis.seed import seed_store

    path = tmp_path_factory.mktemp("sis") / "koppel.db"
    url = f"sqlite:///{path}"
    init(url)
    seed_store(url, students=40, seed=7)
    return url, [{"name": o, "key": list(natural_key(o))} for o in OBJECTS]


@pytest.mark.slow
def test_seeded_sis_replicates_into_typed_datalaag_tables_and_outbox_deletes_follow(tmp_path, project_root, sis_store):
    url, tables = sis_store
    shutil.copy(project_root / "catalog.yaml", tmp_path / "catalog.yaml")
    create(tmp_path)

    def run(mode, cursor=None):
        source = TableSource(DbSource(type="db", system="sis", mode=mode, tables=tables),
                             context(tmp_path, url, name="sis", batch_size=500))
        target = TableTarget(DbTarget.model_validate({"type": "db", "system": "datalaag", "schema": "datalaag"}),
                             context(tmp_path, "sqlite:///var/datalaag.db", name="datalaag"))
        return replicate(source, target, cursor)

    cursor, outcomes = run("outbox")
    assert outcomes and all(o.ok for o in outcomes), [str(o.error) for o in outcomes if not o.ok][:3]
    sis = sqlite3.connect(url.removeprefix("sqlite:///"))
    replica = sqlite3.connect(locations(tmp_path)["datalaag"])
    for name in OBJECTS:
        quoted = f'"{name}"'
        assert sis.execute(f"SELECT count(*) FROM {quoted}").fetchone() == \
            replica.execute(f"SELECT count(*) FROM {quoted}").fetchone(), name

    member = sis.execute("SELECT group_code, person_number FROM membership LIMIT 1").fetchone()
    sis.execute("DELETE FROM membership WHERE group_code = ? AND person_number = ?", member)
    sis.commit()
    run("outbox", cursor)
    assert replica.execute("SELECT count(*) FROM membership WHERE group_code = ? AND person_number = ?",
                           member).fetchone() == (0,)


@pytest.mark.slow
@pytest.mark.postgres
def test_seeded_sis_replicates_into_postgres_replica_tables(tmp_path, project_root, sis_store, pg_url):
    import psycopg

    url, tables = sis_store
    shutil.copy(project_root / "catalog.yaml", tmp_path / "catalog.yaml")
    create(tmp_path, url=pg_url)  # typed tables from the SIS models: booleans, dates, timestamps
    source = TableSource(DbSource(type="db", system="sis", mode="full", tables=tables),
                         context(tmp_path, url, name="sis", batch_size=500))
    target = TableTarget(DbTarget.model_validate({"type": "db", "system": "datalaag", "schema": "datalaag"}),
                         context(tmp_path, pg_url, name="datalaag"))
    _, outcomes = replicate(source, target)
    assert all(o.ok for o in outcomes), [str(o.error) for o in outcomes if not o.ok][:3]
    sis = sqlite3.connect(url.removeprefix("sqlite:///"))
    with psycopg.connect(pg_url.replace("+psycopg", "")) as pg:
        for name in OBJECTS:
            assert sis.execute(f'SELECT count(*) FROM "{name}"').fetchone() == \
                pg.execute(f'SELECT count(*) FROM datalaag."{name}"').fetchone(), name
