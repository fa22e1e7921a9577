"""SIS → data layer: replication into the Datalaag, the IAM's views and the MIP schema."""

from __future__ import annotations

from pathlib import Path

import pytest


def _schema_file(college, schema: str) -> str:
    """The SQLite file that holds one data-layer schema in the sandbox."""
    from plugins.db.dsn import schema_file
    from sandbox.databases import locations

    where = locations(college.root)
    if schema == "iam":
        return str(schema_file(f"sqlite:///{where['datalaag'].replace('.datalaag.db', '.db')}", "iam"))
    return where[schema]


def _replica_rows(path: str, table: str, columns: list[str]) -> set[tuple]:
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            quoted = ", ".join(f'"{c}"' for c in columns)
            return {tuple(r) for r in conn.execute(sa.text(f'SELECT {quoted} FROM "{table}"'))}
    finally:
        engine.dispose()


SCHEMA = {0: "datalaag", 2: "iam", 18: "mip"}


@pytest.mark.parametrize("interface_id", [0, 2, 18])
def test_replication_copies_the_sis_tables(college, interface_id: int) -> None:
    summary = college.run(interface_id, trigger="outbox")
    assert summary.outcome == "ok", summary
    tables = college.engine.project.interfaces[interface_id].source.tables
    counts = {t.name: college.sql(f'SELECT count(*) FROM "{t.name}"')[0][0] for t in tables}
    # the first load: every row of every table (and the outbox's changes since the snapshot began,
    # applied again: an upsert by key makes that harmless)
    assert summary.delivered >= sum(counts.values()) > 0
    path = _schema_file(college, SCHEMA[interface_id])
    for table in tables:
        keys = list(table.key)
        sis = {tuple(str(v) for v in r) for r in college.sql(f'SELECT {", ".join(keys)} FROM "{table.name}"')}
        replica = {tuple(str(v) for v in r) for r in _replica_rows(path, table.name, keys)}
        assert replica == sis, f"{table.name}: {len(replica)} rows in the replica, {len(sis)} in the SIS"
    # a sample of values, column by column, for the person table (minimised differently per schema)
    person = next(t for t in tables if t.name == "person")
    columns = [c for c in person.columns if c not in ("bsn", "created_at", "updated_at")]
    sis = {tuple(r) for r in college.sql(f'SELECT {", ".join(columns)} FROM person')}
    replica = _replica_rows(path, "person", columns)
    assert {tuple(None if v is None else str(v) for v in r) for r in replica} == \
        {tuple(None if v is None else str(v) for v in r) for r in sis}
    again = college.run(interface_id, trigger="outbox")
    assert again.outcome == "ok" and again.read == 0 and again.delivered == 0  # incremental: nothing new


def test_a_change_in_the_sis_reaches_the_datalaag(college) -> None:
    import sqlalchemy as sa

    college.run(0, trigger="outbox")
    college.sql("UPDATE person SET last_name = 'Veranderd' WHERE person_number = 'P100002'")
    college.run(0, trigger="outbox")
    from sandbox.databases import (
        locations,  # the schema 'datalaag' is its own file on SQLite
    )

    engine = sa.create_engine(f"sqlite:///{locations(college.root)['datalaag']}")
    with engine.connect() as conn:
        names = [r[0] for r in conn.execute(sa.text("SELECT name FROM sqlite_master"))]
        table = next(n for n in names if n.endswith("person") and "iam" not in n and "mip" not in n)
        last = conn.execute(sa.text(f'SELECT last_name FROM "{table}" WHERE person_number = \'P100002\'')).scalar()
    assert last == "Veranderd"


def _personal_numbers_in(path: str, numbers: set[str]) -> tuple[list[str], int, int]:
    """(tables and views, cells read, cells holding one of ``numbers``) of a SQLite schema file."""
    import sqlalchemy as sa

    assert Path(path).exists(), path
    engine = sa.create_engine(f"sqlite:///{path}")
    cells = found = 0
    try:
        with engine.connect() as conn:
            names = sorted(r[0] for r in conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")))
            for name in names:
                for row in conn.execute(sa.text(f'SELECT * FROM "{name}"')):
                    cells += len(row)
                    found += sum(1 for value in row if value is not None and str(value) in numbers)
    finally:
        engine.dispose()
    return names, cells, found


def test_no_bsn_or_onderwijsnummer_reaches_the_iam_or_the_mip(college) -> None:
    from plugins.db.dsn import schema_file
    from sandbox.databases import locations

    for interface_id in (2, 18):
        assert college.run(interface_id, trigger="outbox").outcome == "ok"
    numbers = {r[0] for r in college.sql("SELECT bsn FROM person WHERE bsn IS NOT NULL")}
    numbers |= {r[0] for r in college.sql("SELECT onderwijsnummer FROM person WHERE onderwijsnummer IS NOT NULL")}
    assert len(numbers) > 20
    where = locations(college.root)
    where["iam"] = str(schema_file(f"sqlite:///{where['datalaag'].replace('.datalaag.db', '.db')}", "iam"))
    iam_names, iam_cells, iam_found = _personal_numbers_in(where["iam"], numbers)
    assert {"iam_identiteiten", "iam_rollen", "iam_inschrijvingen", "person"} <= set(iam_names)
    assert iam_cells > 1000 and iam_found == 0
    mip_names, mip_cells, mip_found = _personal_numbers_in(where["mip"], numbers)
    assert {"person", "student", "absence"} <= set(mip_names)
    assert mip_cells > 1000 and mip_found == 0
    # the MIP tells people apart by a keyed pseudonym: one per BSN, none equal to a BSN
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{where['mip']}")
    with engine.connect() as conn:
        table = next(r[0] for r in conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'table'"))
                     if r[0].endswith("person"))
        pseudonyms = [r[0] for r in conn.execute(sa.text(f'SELECT pseudonym FROM "{table}" WHERE pseudonym IS NOT NULL'))]
        columns = [r[1] for r in conn.execute(sa.text(f'PRAGMA table_info("{table}")'))]
    engine.dispose()
    with_bsn = college.sql("SELECT count(*) FROM person WHERE bsn IS NOT NULL")[0][0]
    assert len(pseudonyms) == len(set(pseudonyms)) == with_bsn
    assert all(len(p) == 64 for p in pseudonyms)
    assert "bsn" not in columns and "onderwijsnummer" not in columns
