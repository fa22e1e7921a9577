"""Rows 13 (ECK-iD), 14 with 19 and 15 (Signhost → DMS, BPV date → ROD), 25 and 26 (NED OKE, Facet,
TOA) end to end: what the stand-ins received and what the SIS store holds afterwards."""

from __future__ import annotations

import base64
import datetime as dt
import random
import time
from zoneinfo import ZoneInfo

from runtime.sis.seed import dutch
from sandbox.soap.eckid import TEST_CHAIN, TEST_SECTOR, eckid_for, stampseudonym_for

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def accepted(college, system: str, kind: str | None = None) -> list[dict]:
    return [i for i in college.received(system, kind) if i.get("kind") not in ("refused", "sent")]


def assert_ok(summary) -> None:
    assert summary.outcome == "ok", summary
    assert summary.dead == 0, summary


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def in_list(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


# -- row 13 -----------------------------------------------------------------------------------


class Progress:
    """What koppel run's progress line is given: the sources' totals and the counts per batch."""

    wants_total = True

    def __init__(self) -> None:
        self.totals: list[int | None] = []
        self.seen: list[dict] = []

    def expect(self, total: int | None) -> None:
        self.totals.append(total)

    def __call__(self, counts: dict) -> None:
        self.seen.append(dict(counts))


def test_13_new_students_through_the_batch_operations_and_a_bsn_later_replaces(college) -> None:
    from runtime.mapping.functions.ids import eckid_hpgn

    # the seed leaves a few new students without an ECK-iD; two more arrive today
    college.sql("UPDATE person SET eck_id = NULL, eck_id_pgn = NULL WHERE person_number IN (SELECT p.person_number "
                "FROM person p JOIN student s ON s.person_number = p.person_number WHERE p.eck_id IS NOT NULL "
                "AND p.bsn IS NOT NULL ORDER BY p.person_number LIMIT 2)")
    waiting = dict(college.sql(
        "SELECT s.student_number, p.person_number FROM student s JOIN person p ON p.person_number = s.person_number "
        "WHERE p.eck_id IS NULL ORDER BY s.student_number"))
    assert 3 <= len(waiting) < 10, waiting
    # one of them is known to DUO by an onderwijsnummer only, for now
    late, person = next(iter(waiting.items()))
    bsn = college.sql("SELECT bsn FROM person WHERE person_number = :p", p=person)[0][0]
    number = dutch.onderwijsnummer(random.Random(13), set())
    college.sql("UPDATE person SET bsn = NULL, onderwijsnummer = :o WHERE person_number = :p", o=number, p=person)
    college.sandbox.context("kennisnet").received.clear()

    progress = Progress()
    summary = college.engine.run_interface(13, trigger="manual", progress=progress)
    assert_ok(summary)
    assert (summary.read, summary.delivered) == (len(waiting), len(waiting))
    # the sis source said how many it would read (koppel run's ETA), before the first batch
    assert progress.totals == [len(waiting)] and progress.seen[-1]["read"] == len(waiting)
    operations = [r["operation"] for r in accepted(college, "kennisnet")]
    assert [o for o in operations if o.startswith("submit")] == ["submitStampseudonymBatch", "submitEckIdBatch"]
    assert "retrieveStampseudonym" not in operations and "retrieveEckId" not in operations
    submitted = next(r for r in accepted(college, "kennisnet") if r["operation"] == "submitEckIdBatch")["body"]
    assert (submitted["chainId"], submitted["sectorId"]) == (TEST_CHAIN, TEST_SECTOR)  # the sandbox's catalog options
    rows = dict(college.sql("SELECT p.person_number, p.eck_id || ' ' || p.eck_id_pgn FROM person p WHERE p.person_number IN "
                            + in_list(waiting.values())))
    for person_number in waiting.values():
        pgn = number if person_number == person else college.sql(
            "SELECT bsn FROM person WHERE person_number = :p", p=person_number)[0][0]
        expected = eckid_for(stampseudonym_for(eckid_hpgn(pgn)), TEST_CHAIN, TEST_SECTOR)
        assert rows[person_number] == f"{expected} {'onderwijsnummer' if person_number == person else 'bsn'}"
    assert college.run(13).read == 0  # nothing left to ask

    # DUO links the onderwijsnummer to a BSN: the student keeps the ECK-iD, through replaceStampseudonym, once
    before = rows[person].split()[0]
    college.sandbox.context("kennisnet").received.clear()
    college.sql("UPDATE person SET bsn = :b WHERE person_number = :p", b=bsn, p=person)
    summary = college.run(13)
    assert_ok(summary)
    assert (summary.read, summary.delivered) == (1, 1)
    assert [r["operation"] for r in accepted(college, "kennisnet")] == ["replaceStampseudonym", "retrieveEckId"]
    assert college.sql("SELECT eck_id, eck_id_pgn FROM person WHERE person_number = :p", p=person) == [(before, "bsn")]
    assert college.run(13).read == 0
    assert late in waiting


# -- rows 14, 19 and 15 --------------------------------------------------------------------------


def _age(birth: str) -> int:
    today = dt.datetime.now(AMSTERDAM).date()
    born = dt.date.fromisoformat(str(birth)[:10])
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def test_14_signers_by_kind_then_the_signed_pdf_to_the_dms_and_the_bpv_date_to_rod(college) -> None:
    docs = {d: (kind, _age(birth)) for d, kind, birth in college.sql(
        "SELECT d.document_id, d.kind, p.birth_date FROM document d JOIN person p ON p.person_number = d.person_number "
        "WHERE d.signing_status = 'te_ondertekenen'")}
    minors_ook = [d for d, (kind, age) in docs.items() if kind == "onderwijsovereenkomst" and age < 18]
    bpvo = [d for d, (kind, _) in docs.items() if kind == "bpvo"]
    assert minors_ook and bpvo, docs  # the seed gives both: otherwise this test shows nothing
    college.run(19, trigger="outbox")  # realtime interfaces start from now
    college.run(15, trigger="outbox")
    college.sandbox.context("dms").received.clear()
    college.sandbox.context("duo-rod").received.clear()

    summary = college.run(14)
    assert_ok(summary)
    created = {t["body"]["Reference"]: t["body"] for t in accepted(college, "signhost", "transaction")}
    assert sorted(created) == sorted(docs)
    for document, (kind, age) in docs.items():
        roles = [s["Context"]["role"] for s in created[document]["Signers"]]
        expected = ["student"] + (["wettelijk_vertegenwoordiger"] if age < 18 else [])
        expected += ["leerbedrijf", "school"] if kind == "bpvo" else []
        assert roles == expected, (document, kind, age)
        assert created[document]["Context"] == {"documentKind": kind, "studentIsMinor": age < 18}
        assert created[document]["PostbackUrl"] == f"http://127.0.0.1:{college.koppel_port}/hooks/signhost"
    transactions = dict(college.sql("SELECT document_id, sign_transaction_id FROM document WHERE document_id IN "
                                    + in_list(docs)))

    def postbacks(status: int) -> set[str]:
        return {i["body"]["Id"] for i in college.received("signhost", "sent")
                if i.get("what") == "postback" and i["body"]["Status"] == status and i.get("status") == 202}

    wait_until(lambda: set(transactions.values()) <= postbacks(30))
    # several signers: Signhost said "in progress" (20) first, after the student signed
    assert {transactions[d] for d in minors_ook + bpvo} <= postbacks(20)

    college.run(14, trigger="webhook")  # the daemon's callback loop: the postbacks are applied
    states = college.sql("SELECT signing_status, status FROM document WHERE document_id IN " + in_list(docs))
    assert set(states) == {("ondertekend", "concept")}
    assert college.run(19, trigger="outbox").delivered == 0  # signed, but not final: the DMS waits

    summary = college.run(14)  # fetches the signed PDFs and receipts
    assert_ok(summary)
    assert summary.delivered == len(docs) + len(bpvo)  # a fetch per document, a BPV date per agreement
    folder = college.root / "var" / "documents"
    rows = {d: (f, h) for d, f, h in college.sql(
        "SELECT document_id, file_name, sha256 FROM document WHERE status = 'definitief' AND document_id IN " + in_list(docs))}
    assert sorted(rows) == sorted(docs)
    import hashlib

    for document, (file_name, digest) in rows.items():
        assert file_name == f"{document}-ondertekend.pdf"
        signed = (folder / file_name).read_bytes()
        assert hashlib.sha256(signed).hexdigest() == digest and b"signed by student" in signed
        assert (folder / f"{document}-ontvangstbewijs.pdf").read_bytes().startswith(b"%PDF-1.4")

    dms = college.run(19, trigger="outbox")
    assert_ok(dms)
    stored = {}
    for item in accepted(college, "dms", "document"):
        index = {i[k]["FieldName"]: i[k]["DataValue"] for i in item["body"]["IndexDataItems"] for k in i}
        stored[index["Documentcode"]] = base64.b64decode(item["body"]["Streams"][0]["FileDataBase64JSON"])
    students = {d for (d,) in college.sql("SELECT document_id FROM document WHERE student_number IS NOT NULL AND "
                                         "document_id IN " + in_list(docs))}
    assert sorted(stored) == sorted(students)  # an applicant's OOK waits until the applicant is a student
    for document in set(minors_ook) & students:  # the file the DMS got names both signers
        assert b"student" in stored[document].split(b"signed by", 1)[1]
        assert b"wettelijk_vertegenwoordiger" in stored[document].split(b"signed by", 1)[1]

    today = dt.datetime.now(AMSTERDAM).date().isoformat()
    # the agreement belongs to its enrollment's latest BPV by start date (signhost-bpv-afsluitdatum)
    dates = dict(college.sql(
        "SELECT d.document_id, i.agreement_date FROM document d JOIN internship i ON i.enrollment_id = d.enrollment_id "
        "WHERE d.document_id IN " + in_list(bpvo) + " AND i.start_date = (SELECT max(j.start_date) FROM internship j "
        "WHERE j.enrollment_id = d.enrollment_id)"))
    assert set(dates) == set(bpvo) and set(dates.values()) == {today}
    rod = college.run(15, trigger="outbox")
    assert_ok(rod)
    bpv_sent = [r["body"] for r in accepted(college, "duo-rod") if r["operation"] == "aanleveren_bpv"]
    assert len(bpv_sent) >= len(bpvo) and {b["afsluitdatum"] for b in bpv_sent} == {today}
    assert college.run(14).delivered == 0  # nothing left to sign or fetch


# -- rows 25 and 26 -------------------------------------------------------------------------------


def test_25_sessions_before_associations_facet_file_and_toa_csv_then_remindos_results_pushed_back(college) -> None:
    candidates = college.sql("SELECT candidate_id, student_number, exam_code, exam_date, test_system FROM exam_candidate")
    remindo = [c for c in candidates if c[4] == "remindo" and c[3] is not None]
    assert remindo and any(c[4] == "facet" for c in candidates) and any(c[4] == "toa" for c in candidates)
    summary = college.run(25)
    assert_ok(summary)
    calls = [(i["kind"], i["body"]) for i in accepted(college, "remindo") if i["kind"] in ("offering", "association")]
    sessions = {(c[2], str(c[3])[:10]) for c in remindo}
    offerings = [b for k, b in calls if k == "offering"]
    assert {(o["primaryCode"]["code"], o["startDateTime"][:10]) for o in offerings} == sessions
    first_association = next(n for n, (k, _) in enumerate(calls) if k == "association")
    assert {o["offeringId"] for o in offerings} == {b["offeringId"] for k, b in calls[:first_association] if k == "offering"}
    assert not [i for i in college.received("remindo", "refused")]

    facet = sorted((college.root / "var/uploads/facet").glob("facet-kandidaten-*.csv"))
    assert len(facet) == 1
    lines = facet[0].read_bytes().decode("cp1252").splitlines()
    assert lines[0].startswith("kandidaatnummer;") and len(lines) - 1 == sum(1 for c in candidates if c[4] == "facet")
    toa_folder = college.root / "var/sandbox/sftp/toa/import"
    wait_until(lambda: list((toa_folder / "verwerkt").glob("toa-kandidaten-*.csv")))  # TOA read it
    assert not list((toa_folder / "afgekeurd").glob("*"))

    # Remindo pushes each result (NED flow 3/5) to Koppel's server, which stores it before answering
    def pushed() -> list[dict]:
        return [i for i in college.received("remindo", "sent") if i.get("status") == 202]

    wait_until(lambda: len(pushed()) >= len(remindo))
    summary = college.run(25, trigger="webhook")  # the callback loop writes them to the SIS
    assert summary.dead == 0, summary
    results = college.sql("SELECT result_id, student_number, course_code, source_system FROM result WHERE result_id LIKE 'RMD-%'")
    by_student = {(s, c) for _, s, c, _ in results}
    assert {(c[1], c[2]) for c in remindo} <= by_student
    assert {r[3] for r in results} == {"remindo"}


def test_26_facets_downloaded_results_and_toas_exports(college) -> None:
    from sandbox.sftp.partners import qti_result

    facet = college.sql("SELECT student_number, exam_code, exam_date FROM exam_candidate WHERE test_system = 'facet'")
    assert facet
    downloads = college.root / "var/downloads/facet"
    downloads.mkdir(parents=True, exist_ok=True)
    for student, exam, day in facet:  # what the exam office downloads from Facet
        name, body = qti_result("facet", student, exam, dt.date.fromisoformat(str(day)[:10]))
        (downloads / name).write_text(body, encoding="utf-8")
    college.run(25)  # TOA gets its candidates (if it has not yet) and answers with QTI exports
    expected_toa = sorted(college.sql("SELECT student_number, exam_code FROM exam_candidate WHERE test_system = 'toa'"))

    def toa() -> list[tuple]:
        return sorted(college.sql("SELECT student_number, course_code FROM result WHERE source_system = 'toa' "
                                  "AND result_id LIKE 'QTI-%'"))

    deadline = time.monotonic() + 30
    while True:  # TOA's exports arrive a moment later: run 26 as its schedule would
        summary = college.run(26)
        assert_ok(summary)
        if toa() == expected_toa or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert toa() == expected_toa
    stored = college.sql("SELECT student_number, course_code FROM result WHERE source_system = 'facet' "
                         "AND result_id LIKE 'QTI-%'")
    assert sorted(stored) == sorted((s, e) for s, e, _ in facet)
    assert not list(downloads.glob("*.xml")) and len(list((downloads / "archive").glob("*.xml"))) == len(facet)
