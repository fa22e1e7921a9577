"""SIS → external systems: each interface delivers to its stand-in, which checks the contract."""

from __future__ import annotations

import time

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
    # The seed gives students from earlier years an ECK-iD (earlier nightly runs) and leaves a few
    # new ones without: scrypt costs about a second per student, so only those are asked for.
    without = "SELECT count(*) FROM person p JOIN student s ON s.person_number = p.person_number WHERE p.eck_id IS NULL"
    waiting = college.sql(without)[0][0]
    assert 0 < waiting < 10
    summary = college.run(13)
    assert_ok(summary)
    assert summary.read == waiting and summary.delivered == waiting
    assert college.sql(without)[0][0] == 0
    assert college.run(13).read == 0  # nothing left to ask


def test_14_documents_are_signed_and_signhost_s_postbacks_reach_the_sis(college) -> None:
    to_sign = [r[0] for r in college.sql("SELECT document_id FROM document WHERE signing_status = 'te_ondertekenen'")]
    assert to_sign
    summary = college.run(14)
    assert_ok(summary)  # every PDF is in the SIS's document folder: no dead letters
    assert summary.delivered >= len(to_sign)
    files = [i for i in accepted(college, "signhost") if i["kind"] == "file"]
    assert len(files) == len(to_sign)
    sent = dict(college.sql("SELECT document_id, sign_transaction_id FROM document WHERE sign_transaction_id IS NOT NULL "
                            "AND document_id IN (" + ", ".join(f"'{d}'" for d in to_sign) + ")"))
    assert sorted(sent) == sorted(to_sign)

    # The stand-in's signer signs after sign_delay and posts every status change to Koppel's
    # server, which stores it (checksum checked) before answering.
    def signed_postbacks() -> set[str]:
        return {i["body"]["Id"] for i in college.received("signhost", "sent")
                if i.get("what") == "postback" and i["body"]["Status"] == 30 and i.get("status") == 202}

    deadline = time.monotonic() + 30
    while not set(sent.values()) <= signed_postbacks() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(sent.values()) <= signed_postbacks()
    assert not [i for i in college.received("signhost", "sent") if i.get("status") != 202]

    college.run(14, trigger="webhook")  # what the daemon's callback loop does when woken
    states = college.sql("SELECT document_id, signing_status, status, signed_at FROM document WHERE document_id IN ("
                         + ", ".join(f"'{d}'" for d in to_sign) + ")")
    assert {s for _, s, _, _ in states} == {"ondertekend"}
    assert all(signed_at is not None for *_, signed_at in states)
    assert college.run(14).delivered == 0  # nothing left to sign, no postback left to apply


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
