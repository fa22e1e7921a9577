"""One person per human (rows 6 and 7): a second application with the same BSN, and a current
student applying again, land on the person the SIS already has, with no dead letter."""

from __future__ import annotations

import random

import httpx

from runtime import secrets
from runtime.sis.seed import dutch
from sandbox.rest import aanmeldmodule, webhooks


def post_application(college, payload: dict) -> int:
    key = secrets.resolve(aanmeldmodule.SECRET_REFERENCE, base=college.root)
    body = webhooks.encode(payload)
    headers = {**webhooks.standard_webhook_headers(key, body), "X-Aanmeldmodule-Event": "aanmelding",
               "X-Aanmeldmodule-Delivery": payload["aanmeldId"], "Content-Type": "application/json"}
    url = f"http://127.0.0.1:{college.koppel_port}{aanmeldmodule.HOOK_PATH}"
    return httpx.post(url, content=body, headers=headers, timeout=10).status_code


def application(index: int, aanmeld_id: str, *, bsn: str | None, onderwijsnummer: str | None = None,
                last_name: str = "Aanmelder") -> dict:
    data = aanmeldmodule.application(index, seed="applicants")
    data["aanmeldId"] = aanmeld_id
    data["persoon"].update({"bsn": bsn, "onderwijsnummer": onderwijsnummer, "achternaam": last_name})
    return data


def test_one_person_per_bsn_for_repeat_applications_and_returning_students(college) -> None:
    taken = {r[0] for r in college.sql("SELECT bsn FROM person WHERE bsn IS NOT NULL")}
    new_bsn = dutch.bsn(random.Random(612), taken)
    student_person, student_bsn, student_name = college.sql(
        "SELECT p.person_number, p.bsn, p.last_name FROM person p JOIN student s ON s.person_number = p.person_number "
        "JOIN enrollment e ON e.student_number = s.student_number WHERE p.bsn IS NOT NULL "
        "ORDER BY p.person_number LIMIT 1"
    )[0]
    sent = [
        application(9001, "AM-2027-909001", bsn=new_bsn, last_name="Nieuw"),
        application(9002, "AM-2027-909002", bsn=new_bsn, last_name="Nieuw"),  # a second application
        application(9003, "AM-2027-909003", bsn=student_bsn, last_name="Anders gespeld"),  # a student again
    ]
    assert [post_application(college, p) for p in sent] == [202, 202, 202]
    summary = college.run(6, trigger="webhook")
    assert summary.outcome == "ok" and summary.dead == 0, summary
    assert summary.read == 3 and summary.delivered == 3
    people = college.sql("SELECT person_number, last_name FROM person WHERE bsn = :bsn", bsn=new_bsn)
    assert [tuple(p) for p in people] == [("P-AM-2027-909001", "Nieuw")]
    owners = college.sql(
        "SELECT aanmeld_id, person_number FROM application WHERE aanmeld_id LIKE 'AM-2027-9090%' ORDER BY aanmeld_id"
    )
    assert [tuple(o) for o in owners] == [
        ("AM-2027-909001", "P-AM-2027-909001"),
        ("AM-2027-909002", "P-AM-2027-909001"),
        ("AM-2027-909003", student_person),
    ]
    # the student stays one person, and the SIS's own data about them wins over the application's
    assert [tuple(p) for p in college.sql("SELECT person_number, last_name FROM person WHERE bsn = :bsn",
                                          bsn=student_bsn)] == [(student_person, student_name)]
    assert college.sql("SELECT count(*) FROM person WHERE person_number = 'P-AM-2027-909003'")[0][0] == 0


def test_an_applicant_known_only_by_onderwijsnummer_gets_the_bsn_a_later_application_brings(college) -> None:
    taken = {r[0] for r in college.sql("SELECT bsn FROM person WHERE bsn IS NOT NULL")}
    bsn = dutch.bsn(random.Random(613), taken)
    known = {r[0] for r in college.sql("SELECT onderwijsnummer FROM person WHERE onderwijsnummer IS NOT NULL")}
    onderwijsnummer = next(n for n in (f"1{i:08d}" for i in range(98765432, 99999999)) if n not in known)
    first = application(9011, "AM-2027-909011", bsn=None, onderwijsnummer=onderwijsnummer)
    later = application(9012, "AM-2027-909012", bsn=bsn, onderwijsnummer=onderwijsnummer)
    assert [post_application(college, p) for p in (first, later)] == [202, 202]
    summary = college.run(6, trigger="webhook")
    assert summary.outcome == "ok" and summary.dead == 0, summary
    people = college.sql("SELECT person_number, bsn FROM person WHERE onderwijsnummer = :o", o=onderwijsnummer)
    assert [tuple(p) for p in people] == [("P-AM-2027-909011", bsn)]
    owners = college.sql("SELECT person_number FROM application WHERE aanmeld_id IN ('AM-2027-909011', 'AM-2027-909012')")
    assert {o[0] for o in owners} == {"P-AM-2027-909011"}
