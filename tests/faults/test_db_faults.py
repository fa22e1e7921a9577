"""The db plugin (a bulk target: one transaction per write) through a TCP proxy that resets its
PostgreSQL connections at random."""

from __future__ import annotations

import pytest
from faultcheck import FAULTS, check_outcome, deliver_through, streams
from hypothesis import given
from hypothesis import strategies as st
from pgfaults import database, proxied, url
from sqlalchemy import create_engine, text

from plugins.db import plugin as db

pytestmark = pytest.mark.postgres


@FAULTS
@given(stream=streams(max_size=300).map(lambda s: type(s)(s.records, set())),  # a table refuses no one
       rate=st.floats(0.1, 0.5), seed=st.integers(0, 2**16))
def test_resets_of_the_database_connection_lose_nothing_and_leave_the_latest(workdir, stream, rate, seed) -> None:
    root = workdir()
    with database() as name, proxied(rate / 4, seed, kinds=("reset", "reset", "delay")) as proxy:
        # per packet the client sends: a write is several (BEGIN, statements, COMMIT) and a
        # connection more (startup, auth), so a quarter of the rate fails 10-50% of the writes
        summary, letters = deliver_through(
            root, {"db": db}, {"type": "db", "system": "dw", "table": "student", "keys": {"student": ["id"]}},
            stream, interface_id=0, systems={"dw": {"dsn": url(name, proxy.port)}})
        check = create_engine(url(name))
        with check.connect() as c:
            rows = c.execute(text("SELECT id, version, name FROM student")).mappings().all()
        check.dispose()
    arrived = {r["id"]: dict(r) for r in rows}
    check_outcome(stream, arrived, set(arrived), letters)
    assert summary.outcome == "ok" and len(rows) == len(stream.latest())
    assert proxy.chunks > 0  # it went through the proxy
