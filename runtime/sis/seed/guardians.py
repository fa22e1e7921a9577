"""Guardians of the seeded college: one or two parents for every student and applicant under 21.

The college keeps the parents of its younger students (the mentor calls them, and a minor's
onderwijsovereenkomst and BPV agreement are co-signed by the wettelijk vertegenwoordiger,
interface 14). Drawn from a random stream of their own, per person (a hash of the seed and the
person number), so adding guardians changes nothing else in the college. Every guardian has an
e-mail address at example.nl (the signing request goes there); about one in twenty minors has a
voogd instead of parents.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable

from runtime.sis.seed import dutch

#: column positions in a ``person`` row (runtime/sis/models.py, created/updated left out)
PERSON, BIRTH, TUSSENVOEGSEL, LAST_NAME = 0, 8, 6, 7
REFERENCE_DAY = dt.date(2026, 12, 1)
UNDER = 21


def rows(seed: int, persons: list[tuple], staff: Iterable[str]) -> list[tuple]:
    """``guardian`` rows: (guardian_id, person_number, relation, legal_representative, first_names,
    initials, tussenvoegsel, last_name, email, phone)."""
    staff_numbers = set(staff)
    out: list[tuple] = []
    for person in persons:
        number, birth = person[PERSON], person[BIRTH]
        if number in staff_numbers or not birth or _age(dt.date.fromisoformat(birth)) >= UNDER:
            continue
        rng = random.Random(f"{seed}:guardian:{number}")
        if rng.random() < 0.05:
            out.append(_guardian(rng, number, 1, "voogd", None, None))
            continue
        count = 2 if rng.random() < 0.6 else 1
        for n in range(1, count + 1):
            # usually the child's surname; a second parent often has their own
            own = n == 2 and rng.random() < 0.5
            out.append(_guardian(rng, number, n, "ouder", None if own else person[TUSSENVOEGSEL],
                                 None if own else person[LAST_NAME]))
    return out


def _guardian(rng: random.Random, person_number: str, n: int, relation: str, tussenvoegsel, last_name) -> tuple:
    pool = dutch.FIRST_NAMES_V if rng.random() < 0.5 else dutch.FIRST_NAMES_M
    first = rng.choice(pool)
    if last_name is None:
        tussenvoegsel, last_name = rng.choice(dutch.LAST_NAMES)
    plain = "".join(c for c in f"{first}.{tussenvoegsel or ''}{last_name}".lower() if c.isalnum() or c == ".")
    return (f"G-{person_number}-{n}", person_number, relation, True, first, dutch.initials(first),
            tussenvoegsel or None, last_name, f"{plain}{rng.randint(1, 99)}@example.nl",
            f"06{rng.randint(10_000_000, 99_999_999)}")


def _age(birth: dt.date) -> int:
    years = REFERENCE_DAY.year - birth.year
    return years - ((REFERENCE_DAY.month, REFERENCE_DAY.day) < (birth.month, birth.day))
