"""SIS → data layer: replication into the Datalaag, the IAM's views and the MIP schema."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("interface_id", [0, 2, 18])
def test_replication_copies_the_sis_tables(college, interface_id: int) -> None:
    summary = college.run(interface_id, trigger="outbox")
    assert summary.outcome == "ok", summary
    assert summary.delivered > 0
    again = college.run(interface_id, trigger="outbox")
    assert again.outcome == "ok" and again.read == 0  # incremental: nothing new


def test_a_change_in_the_sis_reaches_the_datalaag(college) -> None:
    import sqlalchemy as sa

    college.run(0, trigger="outbox")
    college.sql("UPDATE person SET last_name = 'Veranderd' WHERE person_number = 'P100002'")
    college.run(0, trigger="outbox")
    from sandbox.databases import locations  # the schema 'datalaag' is its own file on SQLite

    engine = sa.create_engine(f"sqlite:///{locations(college.root)['datalaag']}")
    with engine.connect() as conn:
        names = [r[0] for r in conn.execute(sa.text("SELECT name FROM sqlite_master"))]
        table = next(n for n in names if n.endswith("person") and "iam" not in n and "mip" not in n)
        last = conn.execute(sa.text(f'SELECT last_name FROM "{table}" WHERE person_number = \'P100002\'')).scalar()
    assert last == "Veranderd"
