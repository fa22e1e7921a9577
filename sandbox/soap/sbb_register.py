"""The leerbedrijven and erkenningen SBB's stand-in knows (``sandbox/soap/sbb.py``).

``generated()``: sixty companies from the SIS seed's catalogue, deterministic. ``from_sis_store``:
the companies and erkenningen the project's SIS store was seeded with, in the same shape, so the
internships of the synthetic college are at leerbedrijven SBB recognises. Read once; a store
that does not exist (stand-in tests without a college) gives nothing.
"""

from __future__ import annotations

import random
from pathlib import Path

REGISTER_SEED = 8
REGISTER_SIZE = 60


def generated() -> list[dict]:
    from runtime.sis.seed import catalogue, dutch

    rows, recognitions, _ = catalogue.companies(
        random.Random(REGISTER_SEED), REGISTER_SIZE, catalogue.programs(), dutch.PLACES, set()
    )
    return _shape(rows, recognitions)


def from_sis_store(project_root: Path) -> list[dict]:
    import sqlalchemy as sa

    from runtime.settings import sis_url

    url = sis_url(project_root)
    if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).exists():
        return []
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT sbb_code, name, kvk_number, street, house_number, postal_code, city, phone, email, website, "
                "branche FROM company")).all()
            recognitions = conn.execute(sa.text(
                "SELECT sbb_code, crebo, leerweg, start_date, end_date, status FROM recognition")).all()
    except sa.exc.SQLAlchemyError:
        return []
    finally:
        engine.dispose()
    return _shape([tuple(r) for r in rows], [tuple(r) for r in recognitions])


def _shape(rows: list[tuple], recognitions: list[tuple]) -> list[dict]:
    from runtime.sis.seed import catalogue

    names = {q[0]: q[1] for q in catalogue.qualification_rows()}
    by_code: dict[str, list[dict]] = {}
    for code, crebo, leerweg, start, end, _status in recognitions:
        by_code.setdefault(code, []).append({
            "Crebonummer": crebo, "Omschrijving": names.get(crebo), "Leerweg": leerweg,
            "Ingangsdatum": str(start) if start else None, "Einddatum": str(end) if end else None})
    companies = []
    for code, name, kvk, street, number, postcode, city, phone, email, website, sector in rows:
        companies.append({
            "CodeLeerbedrijf": code, "Naam": name, "KvkNummer": kvk,
            "Vestigingsadres": {"Straat": street, "Huisnummer": number, "Postcode": postcode, "Plaats": city, "Land": "NL"},
            "Contactpersoon": _contact(code, phone),
            "Telefoonnummer": phone, "Email": email, "WebsiteUrl": website, "Branche": sector,
            "Erkenningen": by_code.get(code, []),
        })
    return sorted(companies, key=lambda c: c["CodeLeerbedrijf"])


def _contact(code: str, phone: str | None) -> dict:
    """SBB's contact person of the leerbedrijf (detailgegevens): a synthetic person, the same for a
    code every time; ``koppel sbb details`` shows it as SBB gives it and keeps it nowhere."""
    from runtime.sis.seed import dutch

    r = random.Random(f"sbb-contact-{code}")
    first = r.choice(dutch.FIRST_NAMES_V + dutch.FIRST_NAMES_M)
    tussenvoegsel, last = r.choice(dutch.LAST_NAMES)
    full = " ".join(p for p in (first, tussenvoegsel, last) if p)
    mailbox = "".join(c for c in f"{first}.{last}".lower() if c.isascii() and (c.isalnum() or c == "."))
    return {"Naam": full, "Email": f"{mailbox}@leerbedrijf-{code}.example",
            **({"Telefoonnummer": phone} if phone else {})}
