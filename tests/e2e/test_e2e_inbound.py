"""External systems → SIS: each interface reads from (or is called by) its stand-in and writes
the SIS store. SBB (8, 9), Intergrip (10), Exact (21) and Xedule (22) are in test_e2e_vendors.py."""

from __future__ import annotations

import time

import httpx


def count(college, table: str, where: str = "1=1") -> int:
    return college.sql(f'SELECT count(*) FROM "{table}" WHERE {where}')[0][0]


def assert_ok(summary) -> None:
    assert summary.outcome == "ok", summary
    assert summary.dead == 0, summary


def test_01_and_03_iam_provisions_users_and_roles_over_scim(college) -> None:
    response = httpx.post(college.sandbox.url("iam") + "/_sandbox/push", json={"users": 5, "groups": True}, timeout=30)
    assert response.status_code < 300, response.text
    users = college.run(3, trigger="webhook")
    assert_ok(users)
    assert users.delivered >= 5
    assert count(college, "person", "email_school IS NOT NULL") >= 5
    roles = college.run(1, trigger="webhook")
    assert_ok(roles)
    assert count(college, "role_assignment") > 0


def test_06_applications_from_the_aanmeldmodule(college) -> None:
    from sandbox.rest.aanmeldmodule import push_applications

    sent = push_applications(college.root, count=3, koppel_url=f"http://127.0.0.1:{college.koppel_port}")
    assert all(not s.get("error") for s in sent), sent
    before = count(college, "application", "channel = 'aanmeldmodule'")
    summary = college.run(6, trigger="webhook")
    assert_ok(summary)
    assert count(college, "application", "channel = 'aanmeldmodule'") == before + 3


def test_01_and_03_a_scim_delete_closes_the_students_account_and_keeps_the_student(college) -> None:
    iam = college.sandbox.url("iam") + "/_sandbox/push"
    assert httpx.post(iam, json={"users": 2, "start": 12, "groups": False}, timeout=30).status_code == 200
    assert_ok(college.run(3, trigger="webhook"))
    number = college.sql("SELECT person_number FROM person WHERE account_name = 's100013'")[0][0]
    students = count(college, "student", f"person_number = '{number}'")
    assert students == 1
    report = httpx.post(iam, json={"delete": [number]}, timeout=30).json()
    assert [u["status"] for u in report["Users"]] == [204]
    assert_ok(college.run(3, trigger="webhook"))
    assert college.sql(f"SELECT account_name, email_school FROM person WHERE person_number = '{number}'") == [(None, None)]
    assert count(college, "student", f"person_number = '{number}'") == students
    assert count(college, "role_assignment", f"person_number = '{number}' AND source = 'iam'") == 0
    assert httpx.post(iam, json={"delete": [number]}, timeout=30).json()["Users"][0]["status"] == 404


def test_06_a_repeated_application_is_stored_once(college) -> None:
    from sandbox.rest.aanmeldmodule import push_applications

    sent = push_applications(college.root, count=1, start=60, koppel_url=f"http://127.0.0.1:{college.koppel_port}",
                             repeat=3)
    assert [s["status"] for s in sent] == [202, 200, 200], sent
    summary = college.run(6, trigger="webhook")
    assert_ok(summary)
    assert summary.read == 1


def test_06_a_forged_signature_is_refused_and_nothing_stored(college) -> None:
    from sandbox.rest.aanmeldmodule import push_applications

    sent = push_applications(college.root, count=1, start=50, koppel_url=f"http://127.0.0.1:{college.koppel_port}", tamper=True)
    assert sent[0]["status"] in (401, 403)
    assert college.run(6, trigger="webhook").read == 0


def test_07_applications_polled_from_centraal_aanmelden(college) -> None:
    summary = college.run(7, trigger="poll")
    assert_ok(summary)
    assert summary.delivered > 0
    assert count(college, "application", "channel = 'centraal_aanmelden'") > 0


def test_23_bpv_matches_from_b3net(college) -> None:
    response = httpx.post(college.sandbox.url("b3net").rsplit("/api", 1)[0] + "/_sandbox/push", json={"count": 2}, timeout=30)
    assert response.status_code < 300, response.text
    summary = college.run(23, trigger="webhook")
    assert_ok(summary)
    assert summary.read == 2  # each match: the company (leerbedrijf), then the internship
    assert count(college, "internship", "internship_id LIKE 'B3-%'") == 2


def test_26_results_from_remindo_facet_and_toa(college) -> None:
    college.run(25)  # candidates first: Remindo then produces results for them
    time.sleep(1.0)
    summary = college.run(26)
    assert_ok(summary)
    assert summary.delivered > 0


def test_27_formative_results_from_the_dlo(college) -> None:
    summary = college.run(27, trigger="poll")
    assert_ok(summary)
    assert summary.delivered > 0
    assert count(college, "result", "kind = 'formatief'") > 0
