"""The sis plugin (the SIS store as a target: one transaction per write) on PostgreSQL, through a
TCP proxy that resets its connections at random."""

from __future__ import annotations

import os

import pytest
from faultcheck import FAULTS, Stream, check_outcome, deliver_through, streams
from hypothesis import given
from hypothesis import strategies as st
from pgfaults import database, proxied, sis_template, url
from sqlalchemy import create_engine, text

from plugins.sis import plugin as sis
from runtime.plugin import Record

pytestmark = pytest.mark.postgres


def _people(stream: Stream) -> Stream:
    """The stream as SIS persons; a refused record has a gender the store does not allow."""
    records = [Record(key=r.key, object="person", data={
        "person_number": r.key, "last_name": r.data["name"], "gender": "X" if r.key in stream.reject else "V"})
        for r in stream.records]
    return Stream(records, stream.reject)


@FAULTS
@given(stream=streams(max_size=300).map(_people), rate=st.floats(0.1, 0.5), seed=st.integers(0, 2**16))
def test_resets_of_the_sis_store_connection_lose_nothing_and_leave_the_latest(workdir, stream, rate, seed) -> None:
    root = workdir()
    with database(sis_template()) as name, proxied(rate / 4, seed, kinds=("reset", "reset", "delay")) as proxy:
        previous = os.environ.get("KOPPEL_SIS_URL")
        os.environ["KOPPEL_SIS_URL"] = url(name, proxy.port)  # the sis target reads it (settings)
        try:
            summary, letters = deliver_through(root, {"sis": sis}, {"type": "sis", "system": "sis", "object": "person"},
                                               stream, interface_id=6, objects=["person"])
        finally:
            if previous is None:
                os.environ.pop("KOPPEL_SIS_URL", None)
            else:
                os.environ["KOPPEL_SIS_URL"] = previous
        check = create_engine(url(name))
        with check.connect() as c:
            rows = c.execute(text("SELECT person_number, last_name, gender FROM person")).mappings().all()
        check.dispose()
    arrived = {r["person_number"]: {"person_number": r["person_number"], "last_name": r["last_name"],
                                    "gender": r["gender"]} for r in rows}
    check_outcome(stream, arrived, set(arrived), letters)
    assert summary.outcome in ("ok", "partial")
    assert proxy.chunks > 0
