"""Row 15, DUO ROD: what makes a delivery DUO would accept, through the ROD stand-in. Every change
is plain SQL in the SIS store, as the college's own clients write it."""

from __future__ import annotations


def accepted(college, operation: str) -> list[dict]:
    return [i for i in college.received("duo-rod") if i.get("kind") == "accepted" and i.get("operation") == operation]


def an_enrollment(college, *, level: int) -> tuple[str, str, str]:
    """(enrollment id, student number, person number) of an active enrollment at ``level``."""
    return tuple(college.sql(
        "SELECT e.enrollment_id, e.student_number, s.person_number FROM enrollment e "
        "JOIN student s ON s.student_number = e.student_number JOIN program p ON p.program_code = e.program_code "
        "JOIN person pe ON pe.person_number = s.person_number "
        "WHERE e.status = 'actief' AND p.level = :level AND pe.bsn IS NOT NULL ORDER BY e.enrollment_id LIMIT 1",
        level=level,
    )[0])


def test_15_a_student_without_bsn_or_onderwijsnummer_is_identified_first_and_then_reported(college) -> None:
    college.run(15, trigger="outbox")  # from now on
    _enrollment, _student, person = an_enrollment(college, level=2)
    college.sql("UPDATE person SET bsn = NULL, onderwijsnummer = NULL WHERE person_number = :p", p=person)
    before = len(accepted(college, "aanleveren_inschrijving"))
    summary = college.run(15, trigger="outbox")
    assert summary.outcome == "ok" and summary.dead == 0, summary
    (identified,) = [i for i in accepted(college, "aanleveren_identificatie") if i["body"]["kenmerkPersoonSchool"] == person]
    assert {"achternaam", "geboortedatum", "geslacht", "adres"} <= set(identified["body"])
    ((number,),) = college.sql("SELECT onderwijsnummer FROM person WHERE person_number = :p", p=person)
    assert number is not None and number.startswith("19") and len(number) == 9
    # the written-back number changes the person: the enrollment goes again, now with it (in
    # the same run when its outbox reading reaches that change, else in the next)
    summary = college.run(15, trigger="outbox")
    assert summary.outcome == "ok" and summary.dead == 0, summary
    sent = accepted(college, "aanleveren_inschrijving")[before:]
    # what the stand-in keeps is masked like every personal number: the last four digits show
    mine = [i for i in sent if i["body"]["inschrijvingvolgnummer"] and "onderwijsnummer" in i["body"]["persoon"]
            and i["body"]["persoon"]["onderwijsnummer"].endswith(number[-4:])]
    assert len(mine) >= 1 and "burgerservicenummer" not in mine[0]["body"]["persoon"]
    assert len([i for i in accepted(college, "aanleveren_identificatie") if i["body"]["kenmerkPersoonSchool"] == person]) == 1


def test_15_a_bpv_agreement_signed_outside_koppel_goes_once_its_date_is_entered(college) -> None:
    college.run(15, trigger="outbox")
    (internship,) = college.sql(
        "SELECT i.internship_id FROM internship i JOIN enrollment e ON e.enrollment_id = i.enrollment_id "
        "JOIN student s ON s.student_number = e.student_number JOIN person p ON p.person_number = s.person_number "
        "WHERE i.agreement_date IS NULL AND p.bsn IS NOT NULL ORDER BY i.internship_id LIMIT 1"
    )[0]
    college.sql("UPDATE internship SET supervisor_name = 'Nieuwe Praktijkopleider' WHERE internship_id = :i", i=internship)
    before = len(accepted(college, "aanleveren_bpv"))
    assert college.run(15, trigger="outbox").outcome == "ok"
    assert len(accepted(college, "aanleveren_bpv")) == before  # not signed yet: DUO does not hear of it
    college.sql("UPDATE internship SET agreement_date = '2026-11-20' WHERE internship_id = :i", i=internship)  # the manual path
    summary = college.run(15, trigger="outbox")
    assert summary.outcome == "ok" and summary.dead == 0, summary
    (bpv,) = accepted(college, "aanleveren_bpv")[before:]
    assert bpv["body"]["afsluitdatum"] == "2026-11-20"


def test_15_a_diploma_without_the_generic_exam_parts_its_level_needs_is_refused_and_goes_with_them(college) -> None:
    college.run(15, trigger="outbox")
    enrollment, student, _person = an_enrollment(college, level=4)
    crebo = college.sql("SELECT p.crebo FROM enrollment e JOIN program p ON p.program_code = e.program_code "
                        "WHERE e.enrollment_id = :e", e=enrollment)[0][0]
    college.sql(
        "INSERT INTO result (result_id, student_number, enrollment_id, kind, passed, assessed_on, crebo) "
        "VALUES ('RD-1', :s, :e, 'diploma', true, '2027-07-09', :c)", s=student, e=enrollment, c=crebo,
    )
    for code, grade in (("NL", "7"), ("REK", "6")):
        college.sql(
            "INSERT INTO result (result_id, student_number, enrollment_id, kind, grade, passed, assessed_on, "
            "diploma_result_id, duo_code) VALUES (:id, :s, :e, 'generiek_examen', :g, true, '2027-05-12', 'RD-1', :code)",
            id=f"RD-1-{code}", s=student, e=enrollment, g=grade, code=code,
        )
    summary = college.run(15, trigger="outbox")
    assert summary.dead >= 1, summary
    letters = [d for d in college.engine.store.dead_letters(interface_id=15) if d["source_key"] == enrollment]
    reasons = " | ".join(d["reason"] for d in letters)
    assert "D041 generiek examenonderdeel EN ontbreekt bij een diploma niveau 4" in reasons
    assert "D042 geen keuzedeel bij een diploma niveau 4" in reasons
    # the examination office adds Engels and a keuzedeel: the diploma goes, with its parts
    college.sql(
        "INSERT INTO result (result_id, student_number, enrollment_id, kind, grade, passed, assessed_on, "
        "diploma_result_id, duo_code) VALUES ('RD-1-EN', :s, :e, 'generiek_examen', '8', true, '2027-05-14', 'RD-1', 'EN'), "
        "('RD-1-K0123', :s, :e, 'keuzedeel', 'V', true, '2027-03-01', 'RD-1', 'K0123')", s=student, e=enrollment,
    )
    before = len(accepted(college, "aanleveren_diploma"))
    summary = college.run(15, trigger="outbox")
    assert summary.outcome == "ok" and summary.dead == 0, summary
    (diploma,) = [i for i in accepted(college, "aanleveren_diploma")[before:] if i["body"]["resultaatvolgnummer"] == "RD-1"]
    parts = diploma["body"]["generiekExamenonderdeel"]
    assert sorted(p["codeGeneriekExamenonderdeel"] for p in parts) == ["EN", "NL", "REK"]
    keuzedelen = diploma["body"]["keuzedeel"]
    keuzedelen = keuzedelen if isinstance(keuzedelen, list) else [keuzedelen]
    assert [k["codeKeuzedeel"] for k in keuzedelen] == ["K0123"]


def _letters(college, key: str) -> list[str]:
    return [d["reason"] for d in college.engine.store.dead_letters(interface_id=15) if d["source_key"] == key]


def test_15_a_deleted_enrollment_and_bpv_are_taken_back_and_duo_refuses_what_it_never_had(college) -> None:
    college.run(15, trigger="outbox")
    enrollment, student, _person = college.sql(
        "SELECT e.enrollment_id, e.student_number, s.person_number FROM enrollment e "
        "JOIN student s ON s.student_number = e.student_number JOIN person p ON p.person_number = s.person_number "
        "WHERE p.bsn IS NOT NULL AND EXISTS (SELECT 1 FROM internship i WHERE i.enrollment_id = e.enrollment_id) "
        "AND NOT EXISTS (SELECT 1 FROM result r WHERE r.enrollment_id = e.enrollment_id AND r.kind = 'diploma') "
        "ORDER BY e.enrollment_id LIMIT 1")[0]
    (brin, volgnummer) = college.sql("SELECT brin, volgnummer FROM enrollment WHERE enrollment_id = :e", e=enrollment)[0]
    internships = [row[0] for row in college.sql(
        "SELECT internship_id FROM internship WHERE enrollment_id = :e ORDER BY internship_id", e=enrollment)]
    # DUO receives the enrollment and its signed BPVs first
    college.sql("UPDATE internship SET agreement_date = '2026-10-01' WHERE enrollment_id = :e", e=enrollment)
    college.sql("UPDATE enrollment SET planned_end_date = '2029-07-31' WHERE enrollment_id = :e", e=enrollment)
    summary = college.run(15, trigger="outbox")
    assert summary.outcome == "ok" and summary.dead == 0, summary
    before = {op: len(accepted(college, op)) for op in ("verwijderen_inschrijving", "verwijderen_bpv")}

    # the administration deletes the enrollment (what refers to it first, as the references demand)
    college.sql("DELETE FROM internship WHERE enrollment_id = :e", e=enrollment)
    college.sql("DELETE FROM result WHERE enrollment_id = :e", e=enrollment)
    for table in ("document", "application", "exam_candidate"):
        college.sql(f"UPDATE {table} SET enrollment_id = NULL WHERE enrollment_id = :e", e=enrollment)
    college.sql("DELETE FROM enrollment WHERE enrollment_id = :e", e=enrollment)
    summary = college.run(15, trigger="outbox")
    assert summary.outcome == "ok" and summary.dead == 0, summary
    (taken_back,) = accepted(college, "verwijderen_inschrijving")[before["verwijderen_inschrijving"]:]
    assert taken_back["body"]["brin"] == brin and taken_back["body"]["inschrijvingvolgnummer"] == str(volgnummer)
    assert set(taken_back["body"]["persoon"]) == {"burgerservicenummer"}
    bpvs = accepted(college, "verwijderen_bpv")[before["verwijderen_bpv"]:]
    assert [b["body"]["inschrijvingvolgnummer"] for b in bpvs] == [str(volgnummer)] * len(internships)
    assert all(_letters(college, i) == [] for i in internships) and _letters(college, enrollment) == []

    # a second withdrawal of the same enrollment: DUO holds nothing under that key any more
    college.sql("INSERT INTO duo_withdrawal (kind, object_key, student_number, brin, enrollment_volgnummer, reason) "
                "VALUES ('inschrijving', :e, :s, :b, :v, 'ten_onrechte')", e=enrollment, s=student, b=brin, v=volgnummer)
    ((withdrawal,),) = college.sql("SELECT max(withdrawal_id) FROM duo_withdrawal")
    summary = college.run(15, trigger="outbox")
    assert summary.dead == 1, summary
    (reason,) = _letters(college, str(withdrawal))
    assert f"D051 inschrijving {volgnummer} (brin {brin}) is niet aangeleverd of al verwijderd; niets verwijderd" in reason


def test_15_a_diploma_deleted_after_duo_accepted_it_is_taken_back_by_its_resultaatvolgnummer(college) -> None:
    college.run(15, trigger="outbox")
    enrollment, student, _person = an_enrollment(college, level=2)
    crebo, brin, volgnummer = college.sql(
        "SELECT p.crebo, e.brin, e.volgnummer FROM enrollment e JOIN program p ON p.program_code = e.program_code "
        "WHERE e.enrollment_id = :e", e=enrollment)[0]
    college.sql("INSERT INTO result (result_id, student_number, enrollment_id, kind, passed, assessed_on, crebo) "
                "VALUES ('RX-1', :s, :e, 'diploma', true, '2027-07-09', :c)", s=student, e=enrollment, c=crebo)
    college.sql(
        "INSERT INTO result (result_id, student_number, enrollment_id, kind, grade, passed, assessed_on, "
        "diploma_result_id, duo_code) VALUES ('RX-1-NL', :s, :e, 'generiek_examen', '7', true, '2027-05-12', 'RX-1', 'NL'), "
        "('RX-1-REK', :s, :e, 'generiek_examen', '6', true, '2027-05-12', 'RX-1', 'REK'), "
        "('RX-1-K0456', :s, :e, 'keuzedeel', 'V', true, '2027-03-01', 'RX-1', 'K0456')", s=student, e=enrollment)
    summary = college.run(15, trigger="outbox")
    assert summary.outcome == "ok" and summary.dead == 0, summary
    before = len(accepted(college, "verwijderen_diploma"))
    # the examination office finds the diploma was registered on the wrong enrollment and deletes it
    college.sql("DELETE FROM result WHERE diploma_result_id = 'RX-1'")
    college.sql("DELETE FROM result WHERE result_id = 'RX-1'")
    summary = college.run(15, trigger="outbox")
    assert summary.outcome == "ok" and summary.dead == 0, summary
    (taken_back,) = accepted(college, "verwijderen_diploma")[before:]
    assert {k: taken_back["body"][k] for k in ("brin", "inschrijvingvolgnummer", "resultaatvolgnummer")} == {
        "brin": brin, "inschrijvingvolgnummer": str(volgnummer), "resultaatvolgnummer": "RX-1"}
