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
    summary = college.run(5)
    assert_ok(summary)
    drop = college.root / "var/sandbox/sftp/aanmeldmodule/catalogus"
    files = sorted(p.name for p in drop.iterdir())
    assert any(f.endswith(".csv") for f in files) and any(f.endswith(".json") for f in files)
    assert not any(f.startswith(".") or f.endswith(".part") for f in files)  # only complete files


def test_13_eckid_is_fetched_and_written_back(college) -> None:
    # Most students have an ECK-iD from earlier years; scrypt costs about a second per student.
    college.sql("UPDATE person SET eck_id = 'https://ketenid.nl/eck/seeded-' || person_number "
                "WHERE person_number NOT IN (SELECT person_number FROM student ORDER BY student_number LIMIT 3)")
    summary = college.run(13)
    assert_ok(summary)
    assert summary.delivered == 3
    missing = college.sql("SELECT count(*) FROM person p JOIN student s ON s.person_number = p.person_number WHERE p.eck_id IS NULL")
    assert missing[0][0] == 0
    assert college.run(13).read == 0  # nothing left to ask


def test_14_documents_are_sent_for_signing(college) -> None:
    summary = college.run(14)
    assert_ok(summary)
    assert summary.delivered > 0
    states = college.sql("SELECT signing_status, count(*) FROM document GROUP BY signing_status")
    assert dict(states).get("verstuurd", 0) + dict(states).get("ondertekend", 0) > 0


def test_17_offerings_to_rio(college) -> None:
    summary = college.run(17)
    assert_ok(summary)
    assert summary.delivered > 0
    assert accepted(college, "duo-rio")


def test_25_exam_candidates_to_remindo_facet_and_toa(college) -> None:
    summary = college.run(25)
    assert_ok(summary)
    assert accepted(college, "remindo")
    for system, folder in (("facet", "kandidaten"), ("toa", "import")):
        drop = college.root / f"var/sandbox/sftp/{system}/{folder}"
        assert any(drop.iterdir()), system


# Realtime interfaces start from "now": their first run records where the outbox stands, so
# what the seed wrote is not sent; every change after that is. The changes are plain SQL, as
# any other client of the SIS store would write them.
REALTIME_CHANGES = {
    11: "UPDATE application SET status = 'ingetrokken' WHERE aanmeld_id IN (SELECT aanmeld_id FROM application WHERE status = 'aangemeld' ORDER BY aanmeld_id LIMIT 2)",
    12: "UPDATE application SET status = 'onderwijsovereenkomst_aangeboden' WHERE aanmeld_id IN (SELECT aanmeld_id FROM application WHERE status = 'aangemeld' ORDER BY aanmeld_id LIMIT 2)",
    15: "UPDATE enrollment SET location_code = '107X215' WHERE enrollment_id IN (SELECT enrollment_id FROM enrollment ORDER BY enrollment_id LIMIT 2)",
    19: "UPDATE document SET status = 'definitief' WHERE document_id IN (SELECT document_id FROM document WHERE kind IN ('onderwijsovereenkomst', 'verblijfsdocument', 'opleidingsblad', 'bpvo') AND status <> 'definitief' ORDER BY document_id LIMIT 2)",
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
    assert summary.read >= 1 and summary.delivered >= 1, summary
    assert len(accepted(college, TARGET[interface_id])) > before


def test_16_absence_reports_to_duo(college) -> None:
    college.run(16, trigger="outbox")
    college.sql(
        "INSERT INTO absence_report (report_id, student_number, kind, start_date, end_date, hours, status) "
        "SELECT 'VZ-E2E-1', student_number, 'ongeoorloofd_16_uur', '2026-10-05', '2026-10-30', 18, 'te_melden' "
        "FROM student ORDER BY student_number LIMIT 1"
    )
    summary = college.run(16, trigger="outbox")
    assert_ok(summary)
    assert summary.delivered == 1
    assert accepted(college, "duo-verzuim")
