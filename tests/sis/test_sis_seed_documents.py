"""The seeded college's document files and ECK-iDs: what interfaces 13 and 14 find on a fresh store."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from runtime.sis import schema
from runtime.sis.seed import generate, seed_store
from runtime.sis.seed.bulk import columns
from runtime.sis.seed.documents import pdf_bytes


def _check_pdf(data: bytes) -> None:
    """Structure a PDF reader relies on: header, objects where the xref says, trailer, %%EOF."""
    assert data.startswith(b"%PDF-1.4\n") and data.endswith(b"%%EOF\n")
    startxref = int(re.search(rb"startxref\n(\d+)\n", data).group(1))
    assert data[startxref:].startswith(b"xref\n0 7\n")
    offsets = [int(o) for o in re.findall(rb"(\d{10}) 00000 n ", data[startxref:])]
    assert len(offsets) == 6
    for number, offset in enumerate(offsets, start=1):
        assert data[offset:].startswith(f"{number} 0 obj\n".encode())
    length = int(re.search(rb"/Length (\d+) >>\nstream\n", data).group(1))
    stream_start = data.index(b"stream\n") + len(b"stream\n")
    assert data[stream_start + length:].startswith(b"\nendstream")


def test_every_seeded_document_has_a_valid_pdf_whose_hash_is_on_the_row(tmp_path):
    url = f"sqlite:///{tmp_path / 'sis.db'}"
    schema.init(url)
    folder = tmp_path / "documents"
    counts = seed_store(url, students=30, seed=5, documents_dir=folder)
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT document_id, title, file_name, sha256, signing_status FROM document")).all()
    engine.dispose()
    assert len(rows) == counts["document"] and any(r.signing_status == "te_ondertekenen" for r in rows)
    assert sorted(p.name for p in folder.iterdir()) == sorted(r.file_name for r in rows)
    for row in rows:
        data = (folder / row.file_name).read_bytes()
        _check_pdf(data)
        assert hashlib.sha256(data).hexdigest() == row.sha256
        assert row.document_id.encode() in data


def test_the_pdfs_are_deterministic_and_escape_what_pdf_strings_need():
    data = pdf_bytes("Overeenkomst (BBL) \\ Crèche", "bpvo", ["regel"])
    _check_pdf(data)
    assert b"(Overeenkomst \\(BBL\\) \\\\ Cr\xe8che)" in data
    assert data == pdf_bytes("Overeenkomst (BBL) \\ Crèche", "bpvo", ["regel"])


def test_old_students_have_an_eck_id_and_a_few_new_ones_wait_for_interface_13():
    for students in (1, 40, 600):
        rows = generate(students, 11)
        person = {r[0]: dict(zip(columns("person"), r)) for r in rows["person"]}
        enrollments = {r[1]: r[6] for r in rows["enrollment"] if r[12] == "actief"}
        waiting = [s[0] for s in rows["student"] if person[s[1]]["eck_id"] is None]
        assert waiting, "never none: interface 13 always has someone to ask about"
        if students >= 40:
            assert len(waiting) <= 0.1 * students
            assert all(enrollments[s] >= "2026-08-01" for s in waiting)  # only new students wait
        for s in rows["student"]:
            eck_id = person[s[1]]["eck_id"]
            assert eck_id is None or re.fullmatch(r"https://ketenid\.nl/201703/[0-9a-f]{64}", eck_id)


def test_interface_14_finds_the_pdf_wherever_koppel_documents_dir_points(tmp_path, monkeypatch):
    from runtime.mapping import load_mapping
    from runtime.paths import expand

    folder = tmp_path / "elsewhere"
    monkeypatch.setenv("KOPPEL_DOCUMENTS_DIR", str(folder))
    url = f"sqlite:///{tmp_path / 'sis.db'}"
    schema.init(url)
    seed_store(url, students=3, seed=2, documents_dir=folder)
    mapping = load_mapping(Path(__file__).resolve().parents[2], "signhost-transactie")
    person = {"given_name": "Jan", "last_name": "Jansen", "email_private": "jan@example.nl"}
    out = mapping({"document_id": "DOC900001", "student_number": "S100001", "title": "Onderwijsovereenkomst",
                   "kind": "onderwijsovereenkomst",
                   "signing_status": "te_ondertekenen", "file_name": "DOC900001.pdf", "student": {"person": person}})
    path = expand(out["file_path"], tmp_path / "project")
    assert path == folder / "DOC900001.pdf" and path.read_bytes().startswith(b"%PDF-")
