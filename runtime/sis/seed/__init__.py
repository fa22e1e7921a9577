"""``koppel sis seed``: a deterministic synthetic college, written in bulk.

``seed_store(url, students=N, seed=S)`` generates the college (``college.generate``) and writes
it in one transaction with the outbox triggers on, the fastest way each engine offers:
SQLite ``executemany`` on the driver connection (WAL), PostgreSQL ``COPY FROM STDIN``. It refuses
a store that already holds people, so a second seed never mixes two colleges.

With ``documents_dir`` (``runtime.settings.documents_dir``: ``koppel sis seed``, the demo and the
end-to-end tests pass it) every document's PDF is written there too (``seed.documents``); the
rows are the same either way.
"""

from __future__ import annotations

from pathlib import Path

from runtime.sis.seed.catalogue import QUALIFICATIONS
from runtime.sis.seed.college import generate

__all__ = ["CREBOS", "STUDENT_COUNT", "generate", "seed_store", "write_rows"]

#: the default ``koppel sis seed --students``; stand-ins use it to refer to seeded students
STUDENT_COUNT = 2000
#: crebo → (name, level) of the qualifications the college teaches
CREBOS: dict[str, tuple[str, int]] = {q[0]: (q[1], q[2]) for q in QUALIFICATIONS}


def seed_store(url: str, *, students: int, seed: int, documents_dir: Path | str | None = None) -> dict[str, int]:
    """Generate and write the college; returns rows written per object type. With
    ``documents_dir``, the documents' PDFs are written into that folder, after the rows (a
    store that refuses the seed gets no files)."""
    from runtime.sis.seed import documents
    from runtime.sis.seed.bulk import write_rows

    rows = generate(students, seed)
    rows["document"], files = documents.prepare(rows["document"])
    counts = write_rows(url, rows)
    if documents_dir is not None:
        documents.write_files(files, Path(documents_dir))
    return counts


def write_rows(url: str, rows: dict[str, list[tuple]]) -> dict[str, int]:
    from runtime.sis.seed.bulk import write_rows as _write

    return _write(url, rows)
