"""The store keeps what DUO's ROD must take back when an enrollment, a signed BPV or a passed
diploma is deleted by any client (``runtime/sis/withdrawal.py``), on SQLite and PostgreSQL."""

from __future__ import annotations

COLUMNS = "kind, object_key, student_number, brin, enrollment_volgnummer, volgnummer, reason"


def _withdrawals(store) -> list[tuple]:
    return store.sql(f"SELECT {COLUMNS} FROM duo_withdrawal ORDER BY withdrawal_id")


def _enrollment(store, condition: str) -> tuple[str, str, str, int]:
    return tuple(store.sql(
        "SELECT e.enrollment_id, e.student_number, e.brin, e.volgnummer FROM enrollment e WHERE " + condition +
        " ORDER BY e.enrollment_id LIMIT 1")[0])


def test_a_deleted_enrollment_keeps_what_identifies_it_to_duo(seeded) -> None:
    enrollment, student, brin, volgnummer = _enrollment(seeded, " AND ".join(
        f"NOT EXISTS (SELECT 1 FROM {t} c WHERE c.enrollment_id = e.enrollment_id)"
        for t in ("internship", "result", "document", "application", "exam_candidate")))
    (before,) = seeded.sql("SELECT max(seq) FROM outbox")[0]
    seeded.sql("DELETE FROM enrollment WHERE enrollment_id = ?", (enrollment,))
    assert _withdrawals(seeded) == [("inschrijving", enrollment, student, brin, volgnummer, None, "verwijderd")]
    ((key,),) = seeded.sql("SELECT key FROM outbox WHERE seq > ? AND object = 'duo_withdrawal' AND op = 'insert'",
                           (before,))
    assert key == str(seeded.sql("SELECT withdrawal_id FROM duo_withdrawal")[0][0])


def test_only_a_signed_bpv_and_a_passed_diploma_are_withdrawn(seeded) -> None:
    signed, unsigned = (seeded.sql(
        "SELECT i.internship_id, i.volgnummer, e.student_number, e.brin, e.volgnummer FROM internship i "
        f"JOIN enrollment e ON e.enrollment_id = i.enrollment_id WHERE i.agreement_date IS {c} "
        "ORDER BY i.internship_id LIMIT 1")[0] for c in ("NOT NULL", "NULL"))
    seeded.sql("DELETE FROM internship WHERE internship_id IN (?, ?)", (signed[0], unsigned[0]))
    assert _withdrawals(seeded) == [("bpv", signed[0], signed[2], signed[3], signed[4], str(signed[1]), "verwijderd")]

    enrollment, student, brin, volgnummer = _enrollment(seeded, "e.status = 'actief'")
    seeded.sql("INSERT INTO result (result_id, student_number, enrollment_id, kind, passed) VALUES "
               "('RW-1', ?, ?, 'diploma', true), ('RW-2', ?, ?, 'diploma', false), ('RW-3', ?, ?, 'examen', true)",
               (student, enrollment) * 3)
    seeded.sql("DELETE FROM result WHERE result_id IN ('RW-1', 'RW-2', 'RW-3')")
    assert _withdrawals(seeded)[1:] == [("diploma", "RW-1", student, brin, volgnummer, "RW-1", "verwijderd")]


def test_a_record_registered_in_error_is_withdrawn_by_hand_and_checked(seeded) -> None:
    enrollment, student, brin, volgnummer = _enrollment(seeded, "e.status = 'actief'")
    seeded.sql(f"INSERT INTO duo_withdrawal ({COLUMNS}) VALUES ('inschrijving', ?, ?, ?, ?, NULL, 'ten_onrechte')",
               (enrollment, student, brin, volgnummer))
    assert _withdrawals(seeded) == [("inschrijving", enrollment, student, brin, volgnummer, None, "ten_onrechte")]
    import pytest

    with pytest.raises(Exception, match="ck_duo_withdrawal_volgnummer"):
        seeded.sql(f"INSERT INTO duo_withdrawal ({COLUMNS}) VALUES ('bpv', 'X', ?, ?, ?, NULL, 'ten_onrechte')",
                   (student, brin, volgnummer))
