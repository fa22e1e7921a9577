"""Row 10 end to end, every file of a dossier: the Intergrip stand-in over real HTTP on 127.0.0.1,
the rest plugin's download target with ``each``, the write-back into the SIS store. A dossier
holds its doorstroomdossier and none, one or three LOB documents; every document row the SIS
lists ends with the file name and SHA-256 of the bytes in its document folder, one document that
fails holds back only its own dossier (retried when transient, a dead letter naming the document
when Intergrip says 404), and no BSN is in an error, a log line or a dead letter's reason.

Each test has a fresh SIS store, state and document folder; the stand-ins (Centraal Aanmelden for
the applicants, Intergrip for their dossiers) are shared by the module, faults cleared per test.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import copy_project, rewrite_ports

STUDENTS = 5
#: stand-in dossiers by their number of LOB documents (sandbox/rest/intergrip.py, fixed per dossier)
NO_LOB, ONE_LOB, THREE_LOB = "IG-000008", "IG-000004", "IG-000010"


@dataclass
class Lob:
    root: Path
    sis_url: str
    documents: Path
    engine: object
    sandbox: object

    def run(self, interface_id: int):
        return self.engine.run_interface(interface_id, trigger="poll")

    def sql(self, statement: str, **params) -> list[tuple]:
        import sqlalchemy as sa

        engine = sa.create_engine(self.sis_url)
        try:
            with engine.begin() as conn:
                return list(conn.execute(sa.text(statement), params))
        finally:
            engine.dispose()

    def rows(self, where: str = "1=1") -> dict[str, tuple]:
        """document_id → (kind, file_name, sha256) of Intergrip's documents in the SIS."""
        found = self.sql(f"SELECT document_id, kind, file_name, sha256 FROM document WHERE document_id LIKE 'IG-%' AND {where}")
        return {r[0]: tuple(r[1:]) for r in found}

    def listed(self) -> dict[str, list[str]]:
        """dossierId → its document ids, as Intergrip lists them for the college's BRIN."""
        token = (self.root / "sandbox" / "secrets" / "intergrip-token").read_text().strip()
        url, out = self.sandbox.url("intergrip") + "/doorstroomdossiers?brin=30RR&pageSize=100", {}
        while url:
            page = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
            out.update({d["dossierId"]: [doc["documentId"] for doc in d["documenten"]] for d in page["items"]})
            url = page["next"]
        return out

    def fault(self, **spec) -> None:
        url = httpx.URL(self.sandbox.url("intergrip"))
        httpx.post(f"{url.scheme}://{url.host}:{url.port}/_sandbox/faults", json=spec, timeout=10).raise_for_status()

    def fetched(self) -> list[str]:
        return [i["body"]["documentId"] for i in self.sandbox.context("intergrip").received.items if i["kind"] == "document"]

    def bsns(self) -> set[str]:
        return {r[0] for r in self.sql("SELECT bsn FROM person WHERE bsn IS NOT NULL")}


@pytest.fixture(scope="module")
def college_root(tmp_path_factory):
    from sandbox.runner import Sandbox

    root = tmp_path_factory.mktemp("intergrip-lob")
    copy_project(root)
    rewrite_ports(root / "catalog.yaml")
    # a fixed set of applicants and dossiers for the whole module: none appears while it runs
    timeline = {"interval": 3600, "backlog": 25}
    sandbox = Sandbox(root, names=["centraal-aanmelden", "intergrip"], include_services=False, students=STUDENTS,
                      options={"centraal-aanmelden": timeline, "intergrip": timeline}).start()
    try:
        assert not sandbox.skipped, sandbox.skipped
        yield root, sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def fresh(college_root, tmp_path, monkeypatch) -> Lob:
    """A new SIS store (the seeded college, without the applicants yet), state and document folder."""
    from runtime.engine import Engine
    from runtime.project import load_project
    from runtime.sis import schema
    from runtime.sis.seed import seed_store

    root, sandbox = college_root
    url = f"sqlite:///{tmp_path / 'sis.db'}"
    documents = tmp_path / "documents"
    monkeypatch.setenv("KOPPEL_SIS_URL", url)
    monkeypatch.setenv("KOPPEL_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    monkeypatch.setenv("KOPPEL_DOCUMENTS_DIR", str(documents))
    monkeypatch.setenv("KOPPEL_VAR_DIR", str(tmp_path / "var"))
    schema.init(url)
    seed_store(url, students=STUDENTS, seed=7, documents_dir=documents)
    for name in ("centraal-aanmelden", "intergrip"):
        sandbox.context(name).faults.clear()
        sandbox.context(name).received.clear()
    engine = Engine(load_project(root).require_valid(), environment="sandbox")
    try:
        yield Lob(root, url, documents, engine, sandbox)
    finally:
        engine.close()


@pytest.fixture
def lob(fresh) -> Lob:
    assert fresh.run(7).outcome == "ok"  # the applicants, and so the persons Intergrip's BSNs find
    return fresh


def assert_every_file_opens(lob: Lob, rows: dict[str, tuple]) -> None:
    for document_id, (_kind, file_name, sha256) in rows.items():
        assert file_name == f"{document_id}.pdf", document_id
        data = (lob.documents / file_name).read_bytes()
        assert data.startswith(b"%PDF-") and hashlib.sha256(data).hexdigest() == sha256, document_id


def test_every_document_of_a_dossier_with_none_one_or_three_lob_documents_gets_its_file(lob) -> None:
    listed = lob.listed()
    assert len(listed[NO_LOB]) == 1 and len(listed[ONE_LOB]) == 2 and len(listed[THREE_LOB]) == 4
    summary = lob.run(10)
    assert (summary.outcome, summary.dead) == ("ok", 0), summary
    rows = lob.rows()
    assert set(rows) == {doc for docs in listed.values() for doc in docs}  # every listed document is a row
    assert_every_file_opens(lob, rows)
    assert {rows[d][0] for d in listed[THREE_LOB]} == {"doorstroomdossier", "lob"}
    assert sorted(lob.fetched()) == sorted(rows)  # each file fetched once
    assert not list(lob.documents.glob(".*.part"))
    # polled again: nothing changed, nothing fetched again
    assert lob.run(10).read == 0 and sorted(lob.fetched()) == sorted(rows)


def test_one_lob_document_failing_once_is_retried_with_its_dossier(lob) -> None:
    lob.fault(mode="500", match=f"/documenten/{THREE_LOB}-lob2", times=1)
    summary = lob.run(10)
    assert (summary.outcome, summary.dead) == ("ok", 0), summary
    rows = lob.rows()
    assert_every_file_opens(lob, rows)
    dossier = [d for d in rows if d.startswith(THREE_LOB)]
    assert len(dossier) == 4
    # the dossier was fetched again as a whole: its other files twice, the failed one once it answered
    fetched = lob.fetched()
    assert fetched.count(f"{THREE_LOB}-dd") == 2 and fetched.count(f"{THREE_LOB}-lob2") == 1
    assert sorted(p.name for p in lob.documents.glob(f"{THREE_LOB}-*")) == sorted(f"{d}.pdf" for d in dossier)


def test_a_404_for_one_lob_document_is_a_dead_letter_naming_it_and_no_bsn(lob, caplog) -> None:
    bsns = lob.bsns()
    assert bsns
    gone = f"{THREE_LOB}-lob2"
    lob.fault(mode="reject", match=f"/documenten/{gone}", times=-1)
    with caplog.at_level(logging.DEBUG):
        summary = lob.run(10)
    assert (summary.outcome, summary.dead) == ("partial", 1), summary
    [letter] = lob.engine.store.dead_letters(interface_id=10)
    assert letter["source_key"] == THREE_LOB and letter["error_class"] == "record"
    assert f"GET /documenten/{gone}: HTTP 404" in letter["reason"] and "no such document" in letter["reason"]
    # the other dossiers are delivered, every file there; this dossier's rows have no file yet (none half-listed)
    rows = lob.rows()
    delivered = {d: r for d, r in rows.items() if not d.startswith(THREE_LOB)}
    assert delivered and all(r[1] and r[2] for r in delivered.values())
    assert_every_file_opens(lob, delivered)
    assert all(r[1] is None and r[2] is None for d, r in rows.items() if d.startswith(THREE_LOB))
    assert not list(lob.documents.glob(f"{THREE_LOB}-*"))
    # no BSN in the dead letter's reason, the run's message, any log line or the dead letter as shown
    from runtime.engine.deadletters import DeadLetters

    shown = json.dumps(DeadLetters(lob.engine).show(letter["id"]), default=str)
    said = [letter["reason"], summary.message or "", shown, *(r.getMessage() for r in caplog.records)]
    assert not [bsn for bsn in bsns for text in said if bsn in text]



def test_dossiers_before_their_applicants_wait_and_a_replay_gives_every_row_its_file(fresh) -> None:
    from runtime.engine.deadletters import DeadLetters

    listed = fresh.listed()
    summary = fresh.run(10)  # no applicant is a person yet: no BSN finds anyone
    assert (summary.outcome, summary.dead) == ("partial", 2 * len(listed)), summary
    letters = fresh.engine.store.dead_letters(interface_id=10)
    # per dossier: the person's update waits, and so does the write-back of the files it fetched
    assert sorted((d["stage"], d["source_key"]) for d in letters) == sorted(
        [("delivery", k) for k in listed] + [("writeback", k) for k in listed])
    assert all("no person with this key" in d["reason"] for d in letters if d["stage"] == "delivery")
    assert fresh.rows() == {}  # nothing is listed without its person
    assert fresh.run(7).outcome == "ok"  # the applicants arrive
    bsns = fresh.bsns()
    assert not [b for b in bsns for d in letters if b in d["reason"]]
    results = DeadLetters(fresh.engine).replay(interface_id=10)
    assert {r.status for r in results} == {"delivered"}, results
    rows = fresh.rows()
    assert set(rows) == {doc for docs in listed.values() for doc in docs}
    assert_every_file_opens(fresh, rows)


def test_replaying_the_404_once_the_document_is_back_gives_every_row_of_the_dossier_its_file(lob) -> None:
    from runtime.engine.deadletters import DeadLetters

    lob.fault(mode="reject", match=f"/documenten/{THREE_LOB}-lob2", times=-1)
    assert lob.run(10).dead == 1
    [letter] = lob.engine.store.dead_letters(interface_id=10)
    lob.sandbox.context("intergrip").faults.clear()  # Intergrip has the document again
    [result] = DeadLetters(lob.engine).replay([letter["id"]])
    assert result.status == "delivered", result
    assert len(list(lob.documents.glob(f"{THREE_LOB}-*.pdf"))) == 4  # the files came
    rows = lob.rows(f"document_id LIKE '{THREE_LOB}-%'")
    assert len(rows) == 4
    assert_every_file_opens(lob, rows)  # and every row names its file


def test_dry_run_shows_one_get_per_document_of_the_dossier_and_no_bsn(lob) -> None:
    from runtime.engine.dryrun import dry_run

    listed, bsns = lob.listed(), lob.bsns()
    items = [i for i in dry_run(lob.engine, 10, from_start=True) if i.status == "send"]
    shown = {i.source_key: i.rendered for i in items if i.rendered and i.rendered.startswith("GET ")}  # the download target
    assert shown[THREE_LOB].splitlines() == [f"GET /documenten/{d}  → ${{documents}}/{d}.pdf" for d in listed[THREE_LOB]]
    assert shown[NO_LOB].splitlines() == [f"GET /documenten/{NO_LOB}-dd  → ${{documents}}/{NO_LOB}-dd.pdf"]
    assert not [b for b in bsns for text in shown.values() if b in text]
    assert lob.fetched() == [] and lob.rows("sha256 IS NOT NULL") == {}  # nothing fetched, nothing written
