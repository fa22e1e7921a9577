"""Deterministic data for the stand-ins that serve data, fitting the synthetic college.

Numbers follow runtime/sis/RECORDS.md: persons ``P100001``, students ``S100001``, programs
``<crebo>-<BOL|BBL>``, cohorts ``<program_code>-<year>``, staff ``D10001``. The crebo codes (and
which are taught in BBL) come from ``runtime.sis.seed`` when it is importable, so the stand-ins
and the seeded SIS agree; otherwise the defaults below are the assumption. Only the first
``STUDENT_COUNT`` students (default 100; ``configure(students=N)``) are referred to.

Every generator takes a seed and an index and returns the same record for the same pair, so a
test can predict what a stand-in serves. BSNs pass the elfproef and are never logged.

``Timeline`` makes records "appear over time": record *i* becomes visible ``i * interval``
seconds after ``start - backlog * interval``, so a stand-in started now already has
``backlog`` records and gets a new one every ``interval`` seconds.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass

#: crebo → (name, level); a plausible slice of the kwalificatiestructuur
DEFAULT_CREBOS: dict[str, tuple[str, int]] = {
    "25604": ("Software developer", 4),
    "25605": ("Allround medewerker IT systems and devices", 3),
    "25491": ("Verpleegkundige", 4),
    "25480": ("Maatschappelijke zorg", 4),
    "25251": ("Verkoopspecialist", 3),
    "25166": ("Junior accountmanager", 4),
    "25655": ("Pedagogisch medewerker", 4),
    "25187": ("Eerste monteur elektrotechnische installaties", 3),
}
DEFAULT_STUDENT_COUNT = 100
FIRST_NUMBER = 100001

GIVEN = ["Daan", "Sem", "Lucas", "Noah", "Emma", "Julia", "Mila", "Tess", "Sara", "Liam", "Noor",
         "Yara", "Mohammed", "Fenna", "Bram", "Sophie", "Milan", "Lotte", "Ayoub", "Zoë"]
TUSSEN = ["", "", "", "van", "de", "van der", "van den", ""]
SURNAMES = ["Jansen", "de Vries", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Vos",
            "Peters", "Hendriks", "Dekker", "Dijkstra", "Yilmaz", "El Amrani", "Willems"]
SCHOOLS = ["20AB", "21CD", "16XY", "02QZ", "14KL"]  # BRIN codes of VO schools


def _college() -> tuple[dict[str, tuple[str, int]], set[str]]:
    try:
        from runtime.sis import seed  # the SIS seed; optional, so the sandbox also runs without it
        from runtime.sis.seed import catalogue
    except Exception:  # noqa: BLE001 - any failure means: use the documented defaults
        return DEFAULT_CREBOS, set()
    crebos = getattr(seed, "CREBOS", None)
    if not (isinstance(crebos, dict) and crebos):
        return DEFAULT_CREBOS, set()
    crebos = {str(k): (v if isinstance(v, tuple) else (str(v), 4)) for k, v in crebos.items()}
    return crebos, set(getattr(catalogue, "BBL_CREBOS", ()))


CREBOS, BBL_CREBOS = _college()
#: students the stand-ins refer to: S100001 .. S1000NN. Small by default, so that any seeded
#: college (``koppel sis seed --students`` ≥ 100, the demo's 300) has them; see ``configure``.
STUDENT_COUNT = DEFAULT_STUDENT_COUNT


def configure(students: int | None = None) -> None:
    """Refer to the first ``students`` students only (the size of the seeded college)."""
    global STUDENT_COUNT
    if students:
        STUDENT_COUNT = max(1, int(students))


def leerweg(r: random.Random, crebo_code: str) -> str:
    """BBL only where the college teaches the crebo in BBL (the seed's programs), else BOL."""
    return "BBL" if crebo_code in BBL_CREBOS and r.random() < 0.3 else "BOL"


def rng(seed: int | str, *parts: object) -> random.Random:
    return random.Random("|".join(str(p) for p in (seed, *parts)))


def bsn(r: random.Random) -> str:
    """A nine-digit number that passes the elfproef (and so looks like a real BSN)."""
    while True:
        digits = [r.randint(1, 9)] + [r.randint(0, 9) for _ in range(7)]
        check = sum(w * d for w, d in zip(range(9, 1, -1), digits)) % 11
        if check < 10:
            return "".join(map(str, digits)) + str(check)


def student_number(index: int) -> str:
    return f"S{FIRST_NUMBER + index % STUDENT_COUNT}"


def person_number(index: int) -> str:
    return f"P{FIRST_NUMBER + index % STUDENT_COUNT}"


def crebo(r: random.Random) -> str:
    return r.choice(sorted(CREBOS))


def name(r: random.Random) -> dict[str, str]:
    return {"given_name": r.choice(GIVEN), "tussenvoegsel": r.choice(TUSSEN), "last_name": r.choice(SURNAMES)}


def guid(r: random.Random) -> str:
    return str(uuid.UUID(int=r.getrandbits(128), version=4))


def school_year_start(now: float | None = None) -> int:
    """The calendar year in which the *next* cohort starts (applications are for next August)."""
    t = time.gmtime(now or time.time())
    return t.tm_year + 1 if t.tm_mon >= 2 else t.tm_year


@dataclass
class Timeline:
    """Which records are visible now, and when each appeared (see module docstring)."""

    interval: float = 30.0
    backlog: int = 20
    start: float = 0.0
    limit: int = 100_000

    def __post_init__(self) -> None:
        # whole milliseconds, as the timestamps are written: a watermark then compares exactly
        self.start = round(self.start or time.time(), 3)

    def appeared_at(self, index: int) -> float:
        return self.start + (index - self.backlog) * self.interval

    def visible(self, now: float | None = None) -> int:
        """How many records exist now."""
        now = time.time() if now is None else now
        if self.interval <= 0:
            return min(self.backlog, self.limit)
        return max(0, min(self.limit, int((now - self.start) // self.interval) + self.backlog + 1))


def changed_after(at: float, since: float | None) -> bool:
    """``at`` is after the watermark ``since``, compared in the milliseconds both are written in."""
    return since is None or round(at * 1000) > round(since * 1000)


def iso(ts: float) -> str:
    """A UTC timestamp the way our stand-ins without a standard write it."""
    seconds, millis = divmod(round(ts * 1000), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def parse_iso(text: str) -> float:
    """Parse an ISO 8601 timestamp (``Z``, an offset or naive = UTC) to epoch seconds."""
    from datetime import datetime, timezone

    # a "+01:00" offset in an unencoded query string arrives as " 01:00"
    value = datetime.fromisoformat(text.strip().replace(" ", "+").replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def tiny_pdf(title: str) -> bytes:
    """A minimal, valid one-page PDF (for documents the stand-ins serve)."""
    text = title.replace("\\", "").replace("(", "").replace(")", "")[:80]
    stream = f"BT /F1 12 Tf 50 750 Td ({text}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
