"""``koppel sis seed``: a deterministic synthetic college, written in bulk.

``seed_store(url, students=N, seed=S)`` generates the college (``college.generate``) and writes
it in one transaction with the outbox triggers on, the fastest way each engine offers:
SQLite ``executemany`` on the driver connection (WAL), PostgreSQL ``COPY FROM STDIN``. It refuses
a store that already holds people, so a second seed never mixes two colleges.
"""

from __future__ import annotations

from runtime.sis.seed.catalogue import QUALIFICATIONS
from runtime.sis.seed.college import generate

__all__ = ["CREBOS", "STUDENT_COUNT", "generate", "seed_store", "write_rows"]

#: the default ``koppel sis seed --students``; stand-ins use it to refer to seeded students
STUDENT_COUNT = 2000
#: crebo → (name, level) of the qualifications the college teaches
CREBOS: dict[str, tuple[str, int]] = {q[0]: (q[1], q[2]) for q in QUALIFICATIONS}


def seed_store(url: str, *, students: int, seed: int) -> dict[str, int]:
    """Generate and write the college; returns rows written per object type."""
    from runtime.sis.seed.bulk import write_rows

    return write_rows(url, generate(students, seed))


def write_rows(url: str, rows: dict[str, list[tuple]]) -> dict[str, int]:
    from runtime.sis.seed.bulk import write_rows as _write

    return _write(url, rows)
