"""SIS → external systems: each interface delivers to its stand-in, which checks the contract."""

from __future__ import annotations

import pytest


def accepted(college, system: str) -> list[dict]:
    return [i for i in college.received(system) if i.get("kind") not in ("refused", "sent")]


def assert_ok(summary) -> None:
    assert summary.outcome == "ok", summary
    assert summary.dead == 0, summary


def test_04_catalogue_to_the_website_as_ooapi(college) -> None:
    summary = college.run(4)
    assert_ok(summary)
    assert summary.delivered > 0
    bodies = [i["body"] for i in accepted(college, "website")]
    assert any("programId" in b for b in bodies) and any("offeringId" in b for b in bodies)
    # a second run sends nothing that did not change
    again = college.run(4)
    assert_ok(again)
    assert again.delivered == 0


def test_05_catalogue_file_to_the_aanmeldmodule(college) -> None:
    import csv
    import io
    import json

    summary = college.run(5)
    assert_ok(summary)
    drop = college.root / "var/sandbox/sftp/aanmeldmodule/catalogus"
    files = sorted(p.name for p in drop.iterdir())
    assert not any(f.startswith(".") or f.endswith(".part") for f in files)  # only complete files
    [csv_name] = [f for f in files if f.endswith(".csv")]
    [json_name] = [f for f in files if f.endswith(".json")]
    offerings = {r[0]: r for r in college.sql(
        "SELECT o.offering_code, o.program_code, o.brin, p.name, p.crebo FROM offering o "
        "JOIN program p ON p.program_code = o.program_code WHERE o.published")}
    total = college.sql("SELECT count(*) FROM offering")[0][0]
    assert summary.read == total and summary.delivered == 2 * len(offerings) and summary.filtered == total - len(offerings)
    rows = list(csv.DictReader(io.StringIO((drop / csv_name).read_text(encoding="utf-8")), delimiter=";"))
    listed = json.loads((drop / json_name).read_text(encoding="utf-8"))
    # every published offering exactly once, in both files, with what the SIS store holds
    assert sorted(r["aanbodcode"] for r in rows) == sorted(offerings)
    assert sorted(r["aanbodcode"] for r in listed) == sorted(offerings)
    for row in rows:
        code, program, brin, name, crebo = offerings[row["aanbodcode"]]
        assert (row["opleidingscode"], row["brin"], row["naam"], row["crebo"]) == (program, brin, name.strip(),
                                                                                   crebo.zfill(5))
        assert row["aanmelden_open"] in ("J", "N")
    by_code = {r["aanbodcode"]: r for r in listed}
    for row in rows:  # the two files carry the same lines
        assert {k: "" if v is None else str(v) for k, v in by_code[row["aanbodcode"]].items()} == row


# rows 13, 14 (with 19 and 15's BPV date) and 25: tests/e2e/test_e2e_vendors_b.py


def test_17_offerings_to_rio(college) -> None:
    summary = college.run(17)
    assert_ok(summary)
    offerings = dict(college.sql("SELECT offering_code, rio_code FROM offering"))
    assert summary.read == len(offerings) and summary.delivered == len(offerings)
    arrived = accepted(college, "duo-rio")
    assert len(arrived) == len(offerings)
    assert {i["operation"] for i in arrived} == {"aanleveren_aangebodenOpleiding"}
    assert all(i["signed"] in (True, "True") for i in arrived)  # over Edukoppeling, signed
    codes = [i["body"]["aangebodenMboOpleiding"]["aangebodenOpleidingCode"] for i in arrived]
    assert len(set(codes)) == len(offerings)  # one message per offering, none twice
    known = {c for c in offerings.values() if c}
    assert known <= set(codes)  # an offering RIO already knows keeps its code
    # watermark: a second run sends nothing that did not change
    again = college.run(17)
    assert_ok(again)
    assert again.delivered == 0 and len(accepted(college, "duo-rio")) == len(offerings)


# Realtime interfaces start from "now": their first run records where the outbox stands, so
# what the seed wrote is not sent; every change after that is. The changes are plain SQL, as
# any other client of the SIS store would write them.
REALTIME_CHANGES = {
    11: "UPDATE application SET status = 'ingetrokken' WHERE aanmeld_id IN (SELECT aanmeld_id FROM application WHERE status = 'aangemeld' ORDER BY aanmeld_id LIMIT 2)",
    12: "UPDATE application SET status = 'onderwijsovereenkomst_aangeboden' WHERE aanmeld_id IN (SELECT aanmeld_id FROM application WHERE status = 'aangemeld' ORDER BY aanmeld_id LIMIT 2)",
    15: "UPDATE enrollment SET location_code = '107X215' WHERE enrollment_id IN (SELECT enrollment_id FROM enrollment ORDER BY enrollment_id LIMIT 2)",
    # a final document that needs no (more) signing, retitled: only those go to the DMS
    19: "UPDATE document SET title = title || ' (herzien)' WHERE document_id IN (SELECT document_id FROM document WHERE kind IN ('onderwijsovereenkomst', 'verblijfsdocument', 'opleidingsblad', 'bpvo') AND status = 'definitief' AND signing_status IN ('ondertekend', 'niet_nodig') ORDER BY document_id LIMIT 2)",
    24: "UPDATE enrollment SET end_date = '2027-07-31' WHERE enrollment_id IN (SELECT enrollment_id FROM enrollment ORDER BY enrollment_id DESC LIMIT 2)",
}
TARGET = {11: "intergrip", 12: "vva", 15: "duo-rod", 19: "dms", 24: "b3net"}


@pytest.mark.parametrize("interface_id", sorted(REALTIME_CHANGES))
def test_a_change_in_the_sis_store_reaches_the_target(college, interface_id: int) -> None:
    college.run(interface_id, trigger="outbox")  # from now on
    before = len(accepted(college, TARGET[interface_id]))
    college.sql(REALTIME_CHANGES[interface_id])
    summary = college.run(interface_id, trigger="outbox")
    assert_ok(summary)
    # each statement changes two rows: both are read, and each is sent once (a target may split
    # one record into several messages, never fewer than one each). 15 reads the enrollments'
    # related rows as well (the ROD message of an enrollment carries them)
    assert summary.read == 2 if interface_id != 15 else summary.read >= 2, summary
    arrived = accepted(college, TARGET[interface_id])[before:]
    assert summary.delivered >= 2 and len(arrived) == summary.delivered, (summary, len(arrived))
    again = college.run(interface_id, trigger="outbox")
    assert again.read == 0 and len(accepted(college, TARGET[interface_id])) == before + len(arrived)


def test_16_absence_reports_to_duo_get_its_number_and_can_be_withdrawn(college) -> None:
    # An attendance officer records truancy of a minor with plain SQL; the SIS store's own rule
    # (at least 16 hours in 4 school weeks) makes the report, and interface 16 takes it to DUO.
    college.run(16, trigger="outbox")
    student = college.sql(
        "SELECT s.student_number FROM student s JOIN person p ON p.person_number = s.person_number "
        "WHERE NOT s.has_startkwalificatie AND p.birth_date > '2008-11-06' "
        "AND EXISTS (SELECT 1 FROM enrollment e WHERE e.student_number = s.student_number) "
        "ORDER BY s.student_number LIMIT 1"
    )[0][0]
    for i, day in enumerate(("2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05")):
        college.sql(
            "INSERT INTO absence (absence_id, student_number, date, hours, authorised, reason) "
            "VALUES (:id, :student, :day, 4, :authorised, 'spijbelen')",
            id=f"E2E-{i}", student=student, day=day, authorised=False,
        )
    report_id = f"VZ-{student}-2026-11-02"
    made = college.sql("SELECT report_id, status, hours, end_date FROM absence_report WHERE start_date = '2026-11-02'")
    assert [tuple(r) for r in made] == [(report_id, "te_melden", 16.0, "2026-11-05")]
    summary = college.run(16, trigger="outbox")
    assert_ok(summary)
    assert summary.delivered == 1
    sent = [i for i in accepted(college, "duo-verzuim") if report_id in str(i["body"])]
    assert [i["operation"] for i in sent] == ["melden_verzuim"]
    # DUO's melding number is written back
    ((number, status),) = college.sql("SELECT duo_reference, status FROM absence_report WHERE report_id = :id", id=report_id)
    assert status == "gemeld" and number.startswith("VZ")
    # the attendance officer withdraws it: the withdrawal with DUO's number reaches the stand-in
    college.sql("UPDATE absence_report SET status = 'ingetrokken' WHERE report_id = :id", id=report_id)
    summary = college.run(16, trigger="outbox")
    assert_ok(summary)
    assert summary.delivered == 1
    withdrawn = [i for i in accepted(college, "duo-verzuim") if i["operation"] == "intrekken_verzuimmelding"]
    assert len(withdrawn) == 1 and withdrawn[0]["body"]["nummerMelding"] == number
