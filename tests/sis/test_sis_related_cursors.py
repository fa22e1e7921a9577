"""A step's cursor never passes a change of an included object that is not yet sent.

Found by the outage test (tests/engine/test_outage.py): 300 person changes woke interface 24
(enrollments, including their person through the student); after the first step of 50 records an
outage ended the run, and the 250 not yet sent were lost, because every record derived from a
person change carried the *last* person change's sequence number, so the first step's cursor
already stood just below it."""

from __future__ import annotations

import sqlalchemy as sa

from tests.sis.test_sis_plugin import _drain, _source


def test_records_from_included_changes_never_move_the_cursor_past_an_unsent_change(seeded, monkeypatch) -> None:
    source = _source(seeded, monkeypatch, object="student", include=["person"])
    _, _, cursor = _drain(source, None)  # a first read pins the end of the outbox
    engine = sa.create_engine(seeded.url)
    with engine.begin() as c:
        people = [r[0] for r in c.execute(sa.text("SELECT person_number FROM student ORDER BY student_number LIMIT 40"))]
        for person in people:  # one transaction, one change per person: as interface 24's burst
            c.execute(sa.text("UPDATE person SET initials = 'X.Y.' WHERE person_number = :p"), {"p": person})
        seqs = [r[0] for r in c.execute(sa.text("SELECT seq FROM outbox WHERE seq > :s ORDER BY seq"),
                                        {"s": int(cursor)})]
    engine.dispose()
    batches, records, _ = _drain(source, cursor)
    source.close()
    assert len(records) == 40 and seqs
    for record in records[:-1]:  # acknowledging a prefix must leave every person change after it unsent
        assert int(record.cursor) < min(seqs), (record.key, record.cursor, min(seqs))
    assert int(batches[-1].cursor) >= max(seqs)  # the whole batch acknowledged: past them all
