"""Applications (aanmeldingen) as Centraal Aanmelden, Intergrip and the aanmeldmodule know them.

One generator so that the same ``aanmeldId`` means the same applicant everywhere: Intergrip's
doorstroomdossier for ``CA-2027-000012`` is about the applicant Centraal Aanmelden delivered.
Applicants are new persons (no student number yet): Koppel creates the person and application.
"""

from __future__ import annotations

import time
from typing import Any

from sandbox.rest import synthetic

BRIN_MBO = "30RR"  # the college's BRIN in the synthetic college
VOOROPLEIDINGEN = ("VMBO-TL", "VMBO-KB", "VMBO-GL", "HAVO", "VMBO-BB")


def aanmeld_id(prefix: str, year: int, index: int) -> str:
    return f"{prefix}-{year}-{index + 1:06d}"


def application(seed: int | str, index: int, appeared_at: float, *, prefix: str = "CA") -> dict[str, Any]:
    """Application ``index`` in the shape of Centraal Aanmelden (see centraal_aanmelden.py)."""
    r = synthetic.rng(seed, prefix, index)
    year = synthetic.school_year_start(appeared_at)
    person = synthetic.name(r)
    crebo = synthetic.crebo(r)
    name, level = synthetic.CREBOS[crebo]
    leerweg = synthetic.leerweg(r, crebo)
    birth_year = year - r.randint(15, 19)
    return {
        "aanmeldId": aanmeld_id(prefix, year, index),
        "gewijzigdOp": synthetic.iso(appeared_at),
        "ingediendOp": synthetic.iso(appeared_at),
        "status": "aangemeld",
        "instelling": {"brin": BRIN_MBO},
        "persoon": {
            "bsn": synthetic.bsn(r),
            "voornamen": person["given_name"],
            "roepnaam": person["given_name"],
            "voorvoegsel": person["tussenvoegsel"] or None,
            "achternaam": person["last_name"],
            "geboortedatum": f"{birth_year}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
            "geslacht": r.choice("MVO"),
            "email": f"{person['given_name'].lower()}.{index + 1}@example.nl",
            "telefoon": f"06{r.randint(10_000_000, 99_999_999)}",
            "adres": {"straat": "Onderwijsboulevard", "huisnummer": str(r.randint(1, 300)),
                      "postcode": f"{r.randint(5200, 5299)}{r.choice(['AA', 'AB', 'BC', 'KL'])}",
                      "plaats": "'s-Hertogenbosch", "land": "NL"},
        },
        "opleiding": {"crebo": crebo, "naam": name, "niveau": level, "leerweg": leerweg,
                      "cohortcode": f"{crebo}-{leerweg}-{year}"},
        "cohort": str(year),
        "startdatum": f"{year}-08-31",
        "vooropleiding": {"brin": r.choice(synthetic.SCHOOLS), "soort": r.choice(VOOROPLEIDINGEN)},
    }


def visible(seed: int | str, timeline: synthetic.Timeline, since: float | None, *, prefix: str = "CA",
            now: float | None = None) -> list[dict[str, Any]]:
    """The applications that exist now and changed after ``since``, oldest first."""
    now = time.time() if now is None else now
    out = []
    for index in range(timeline.visible(now)):
        at = timeline.appeared_at(index)
        if synthetic.changed_after(at, since):
            out.append(application(seed, index, at, prefix=prefix))
    return out
