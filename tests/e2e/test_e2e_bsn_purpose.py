"""Purpose binding of the BSN (art. 46 UAVG): after the replication interfaces 2 (IAM) and 18
(MIP) have run, no BSN and no onderwijsnummer of the SIS store is in any table or view of the
iam or mip schema, with the data layer on SQLite and on PostgreSQL. The MIP tells people apart
by a keyed pseudonym instead."""

from __future__ import annotations

import os
import re
import uuid

import pytest

from .conftest import copy_project

PG_ADMIN = os.environ.get("KOPPEL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
STUDENTS = 60


@pytest.fixture(params=["sqlite", "postgresql"])
def replicated(request, tmp_path, monkeypatch):
    for name in ("KOPPEL_SIS_URL", "KOPPEL_STATE_URL", "KOPPEL_VAR_DIR", "KOPPEL_DOCUMENTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    from runtime.engine import Engine
    from runtime.paths import specs_dir
    from runtime.project import load_project
    from runtime.settings import sis_url
    from runtime.sis import schema
    from runtime.sis.seed import seed_store
    from sandbox import databases

    from .conftest import ROOT

    monkeypatch.setenv("KOPPEL_SPECS_DIR", str(specs_dir(ROOT)))
    copy_project(tmp_path)
    dbname = None
    if request.param == "postgresql":
        psycopg = pytest.importorskip("psycopg")
        dbname = f"koppel_law_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        try:
            with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as admin:
                admin.execute(f'CREATE DATABASE "{dbname}"')
        except psycopg.OperationalError:
            pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
        dsn = PG_ADMIN.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0] + "/" + dbname
        catalog = tmp_path / "catalog.yaml"
        catalog.write_text(catalog.read_text(encoding="utf-8").replace("sqlite:///var/datalaag.db", dsn), encoding="utf-8")
    url = sis_url(tmp_path)
    schema.init(url)
    seed_store(url, students=STUDENTS, seed=11)
    databases.create(tmp_path)
    engine = Engine(load_project(tmp_path).require_valid(), environment="sandbox")
    try:
        for interface_id in (2, 18):
            summary = engine.run_interface(interface_id, trigger="outbox")
            assert summary.outcome == "ok" and summary.dead == 0, summary
        yield tmp_path, url, dbname
    finally:
        close = getattr(engine, "close", None)
        if close:
            close()
        if dbname:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def _store_numbers(url: str) -> set[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT bsn, onderwijsnummer FROM person")).all()
    finally:
        engine.dispose()
    return {v for row in rows for v in row if v}


def _schema_contents(root, dbname: str | None, schema: str) -> dict[str, tuple[list[str], list[tuple]]]:
    """table or view → (columns, rows) of one schema of the data layer."""
    import sqlalchemy as sa

    from plugins.db.dsn import schema_file

    if dbname is None:
        engine = sa.create_engine(f"sqlite:///{schema_file(f'sqlite:///{root}/var/datalaag.db', schema)}")
        listing = "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
        quoted = '"{}"'
    else:
        engine = sa.create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0] + "/" + dbname)
        listing = f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'"
        quoted = f'"{schema}"."{{}}"'
    out = {}
    try:
        with engine.connect() as conn:
            for (name,) in conn.execute(sa.text(listing)).all():
                result = conn.execute(sa.text(f"SELECT * FROM {quoted.format(name)}"))
                out[name] = (list(result.keys()), [tuple(r) for r in result])
    finally:
        engine.dispose()
    return out


def test_no_bsn_or_onderwijsnummer_in_any_table_or_view_of_the_iam_or_the_mip(replicated) -> None:
    root, url, dbname = replicated
    numbers = _store_numbers(url)
    assert len(numbers) >= STUDENTS
    for schema, expected in (("iam", {"person", "iam_identiteiten", "iam_rollen", "iam_inschrijvingen"}),
                             ("mip", {"person", "student", "absence", "absence_report"})):
        contents = _schema_contents(root, dbname, schema)
        assert expected <= set(contents), (schema, sorted(contents))
        cells = sum(len(columns) * len(rows) for columns, rows in contents.values())
        found = [(name, c) for name, (columns, rows) in contents.items() for row in rows
                 for c, v in zip(columns, row) if v is not None and str(v) in numbers]
        assert cells > 1000 and found == [], (schema, found[:5])
        named = [(name, c) for name, (columns, _rows) in contents.items() for c in columns
                 if re.search(r"(^|_)(bsn|onderwijsnummer)($|_)", c)]
        assert named == [], (schema, named)


def test_the_mip_has_one_keyed_pseudonym_per_bsn(replicated) -> None:
    import hashlib
    import hmac

    root, url, dbname = replicated
    columns, rows = _schema_contents(root, dbname, "mip")["person"]
    pseudonyms = {row[columns.index("person_number")]: row[columns.index("pseudonym")] for row in rows}
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        bsns = dict(conn.execute(sa.text("SELECT person_number, bsn FROM person")).all())
    engine.dispose()
    key = (root / "sandbox/secrets/sis-pseudonym-key").read_text(encoding="utf-8").strip().encode()
    assert set(pseudonyms) == set(bsns)
    for person, bsn in bsns.items():
        expected = hmac.new(key, bsn.encode(), hashlib.sha256).hexdigest() if bsn else None
        assert pseudonyms[person] == expected
    assert len({p for p in pseudonyms.values() if p}) == sum(1 for b in bsns.values() if b)
