"""The college's catalogue: qualifications, programs, RIO offerings and cohorts, leerbedrijven.

Crebo codes and names follow the kwalificatiestructuur's pattern (5-digit codes, levels 1-4,
dossiers and sectors); they are representative, not a copy of SBB's current list.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid

#: crebo, name, level, dossier crebo, dossier name, sector, price factor
QUALIFICATIONS = (
    ("25998", "Software developer", 4, "23305", "Software development", "ICT en creatieve industrie", 1.2),
    ("25604", "Medewerker ICT-support", 2, "23188", "ICT support", "ICT en creatieve industrie", 1.2),
    ("25605", "Allround medewerker IT systems and devices", 3, "23188", "ICT support", "ICT en creatieve industrie", 1.2),
    ("25606", "Expert IT systems and devices", 4, "23188", "ICT support", "ICT en creatieve industrie", 1.2),
    ("25491", "Mbo-verpleegkundige", 4, "23311", "Verpleegkundige", "Zorg, welzijn en sport", 1.0),
    ("25480", "Verzorgende-IG", 3, "23310", "Verzorgende-IG / Maatschappelijke zorg", "Zorg, welzijn en sport", 1.0),
    ("25483", "Persoonlijk begeleider gehandicaptenzorg", 4, "23310", "Maatschappelijke zorg", "Zorg, welzijn en sport", 1.0),
    ("25698", "Pedagogisch medewerker kinderopvang", 3, "23293", "Pedagogisch werk", "Zorg, welzijn en sport", 1.0),
    ("25486", "Helpende zorg en welzijn", 2, "23309", "Helpende zorg en welzijn", "Zorg, welzijn en sport", 1.0),
    ("25407", "Sport- en bewegingscoördinator", 4, "23301", "Sport en bewegen", "Zorg, welzijn en sport", 1.0),
    ("25168", "Medewerker logistiek", 2, "23229", "Logistiek", "Mobiliteit, transport, logistiek en maritiem", 1.2),
    ("25253", "Eerste monteur elektrotechnische installaties", 3, "23256", "Elektrotechnische installaties", "Techniek en gebouwde omgeving", 1.45),
    ("25266", "Monteur mechatronica", 2, "23254", "Mechatronica", "Techniek en gebouwde omgeving", 1.45),
    ("25180", "Zelfstandig werkend kok", 3, "23238", "Keuken", "Voedsel, groen en gastvrijheid", 1.3),
    ("25179", "Kok", 2, "23238", "Keuken", "Voedsel, groen en gastvrijheid", 1.3),
    ("25196", "Gastheer/gastvrouw", 2, "23240", "Gastheer/-vrouw", "Voedsel, groen en gastvrijheid", 1.3),
    ("25460", "Verkoopmedewerker", 2, "23281", "Retail", "Handel", 1.0),
    ("25459", "Commercieel medewerker", 4, "23280", "Commercie", "Handel", 1.0),
    ("25140", "Secretarieel medewerker", 3, "23273", "Secretariële beroepen", "Bedrijfsadministratie", 1.0),
    ("25138", "Financieel administratief medewerker", 3, "23270", "Financiële beroepen", "Bedrijfsadministratie", 1.0),
    ("25652", "Juridisch medewerker zakelijke dienstverlening", 4, "23300", "Juridisch-administratieve beroepen", "Bedrijfsadministratie", 1.0),
    ("25250", "Assistent bouwen, wonen en onderhoud", 1, "23190", "Entree", "Entree", 1.0),
    ("25251", "Assistent dienstverlening en zorg", 1, "23190", "Entree", "Entree", 1.0),
    ("25252", "Assistent verkoop/retail", 1, "23190", "Entree", "Entree", 1.0),
)
BBL_CREBOS = {"25491", "25480", "25483", "25698", "25253", "25266", "25180", "25179", "25168"}
DURATION_MONTHS = {1: 12, 2: 24, 3: 36, 4: 36}
DEPARTMENTS = {
    "ICT en creatieve industrie": "ICT Academie",
    "Zorg, welzijn en sport": "Zorg en Welzijn",
    "Mobiliteit, transport, logistiek en maritiem": "Techniek en Logistiek",
    "Techniek en gebouwde omgeving": "Techniek en Logistiek",
    "Voedsel, groen en gastvrijheid": "Horeca en Toerisme",
    "Handel": "Economie en Ondernemen",
    "Bedrijfsadministratie": "Economie en Ondernemen",
    "Entree": "Entree",
}
COMPANY_KINDS = {
    "ICT en creatieve industrie": ("IT Services", "Digital", "Software", "Systeembeheer"),
    "Zorg, welzijn en sport": ("Zorggroep", "Thuiszorg", "Kinderopvang", "Woonzorgcentrum"),
    "Mobiliteit, transport, logistiek en maritiem": ("Logistics", "Distributiecentrum", "Transport"),
    "Techniek en gebouwde omgeving": ("Installatietechniek", "Elektro", "Technische Dienst"),
    "Voedsel, groen en gastvrijheid": ("Restaurant", "Hotel", "Catering", "Brasserie"),
    "Handel": ("Retail", "Groothandel", "Winkels"),
    "Bedrijfsadministratie": ("Administratiekantoor", "Accountants", "Advocaten"),
    "Entree": ("Onderhoud", "Facilitair", "Supermarkt"),
}
SCHOOL_YEAR_START = dt.date(2026, 8, 24)  # fixed, so the same seed gives the same college


def brin(rng: random.Random) -> str:
    return f"{rng.randint(20, 31)}{rng.choice('ABCDEFGHJKLMNPRSTVWXYZ')}{rng.choice('ABCDEFGHJKLMNPRSTVWXYZ')}"


def rio_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def sbb_code(rng: random.Random, taken: set[str]) -> str:
    while True:
        code = str(rng.randint(100_000_000, 999_999_999))
        if code not in taken:
            taken.add(code)
            return code


def qualification_rows() -> list[tuple]:
    return [
        (crebo, name, level, dossier, dossier_name, sector, factor, "2024-08-01", None)
        for crebo, name, level, dossier, dossier_name, sector, factor in QUALIFICATIONS
    ]


def programs() -> list[dict]:
    """One program per crebo and leerweg the college teaches."""
    result = []
    for crebo, name, level, _d, _dn, sector, _f in QUALIFICATIONS:
        for leerweg in ("BOL", "BBL") if crebo in BBL_CREBOS else ("BOL",):
            result.append(
                {
                    "program_code": f"{crebo}-{leerweg}",
                    "crebo": crebo,
                    "name": name,
                    "level": level,
                    "leerweg": leerweg,
                    "duration_months": DURATION_MONTHS[level],
                    "department": DEPARTMENTS[sector],
                    "sector": sector,
                }
            )
    return result


def offerings_and_cohorts(rng: random.Random, college_brin: str, programs_: list[dict]) -> tuple[list, list]:
    """An RIO offering per program and location, with cohorts for 2024..2027 (start in August,
    BBL also in February); the 2027 cohorts are open for applications."""
    aanbieder = f"{rng.randint(100, 999)}A{rng.randint(100, 999)}"
    locations = [f"{rng.randint(100, 999)}X{rng.randint(100, 999)}" for _ in range(2)]
    offerings, cohorts = [], []
    for program in programs_:
        location = locations[int(program["crebo"]) % len(locations)]
        code = f"{program['program_code']}-{location}"
        program["location_code"] = location
        program["offering_code"] = code
        offerings.append(
            (code, program["program_code"], rio_uuid(rng), f"{rng.randint(1000, 9999)}O{rng.randint(1000, 9999)}",
             aanbieder, location, college_brin, program["name"],
             f"{program['name']} (niveau {program['level']}, {program['leerweg']})", "2024-08-01", None, True)
        )
        program["cohorts"] = {}
        for year in (2024, 2025, 2026, 2027):
            starts = [dt.date(year, 8, 24 if year == 2026 else 25)]
            if program["leerweg"] == "BBL" and year < 2027:
                starts.append(dt.date(year + 1, 2, 2))
            for start in starts:
                # <program_code>-<year> for August; a February start gets -<year>-02
                cohort_code = f"{program['program_code']}-{start.year}" + ("-02" if start.month == 2 else "")
                status = "O" if start >= SCHOOL_YEAR_START else "G"
                cohorts.append(
                    (cohort_code, code, start.isoformat(), dt.date(start.year - 1, 10, 1).isoformat(),
                     dt.date(start.year, 4, 1).isoformat() if start.month == 8 else (start - dt.timedelta(days=14)).isoformat(),
                     status, rng.choice((24, 30, 48, 60)))
                )
                program["cohorts"].setdefault(year, []).append((cohort_code, start))
    return offerings, cohorts


def companies(rng: random.Random, count: int, programs_: list[dict], places, taken: set[str]) -> tuple[list, list, dict]:
    """Leerbedrijven with erkenningen; returns rows and {(crebo, leerweg): [sbb codes]}."""
    from runtime.sis.seed.dutch import LAST_NAMES, postal_code

    by_sector: dict[str, list[dict]] = {}
    for program in programs_:
        by_sector.setdefault(program["sector"], []).append(program)
    sectors = sorted(by_sector)
    rows: list = []
    recognitions: list = []
    recognised: dict = {}
    for i in range(count):
        sector = sectors[i % len(sectors)]
        code = sbb_code(rng, taken)
        city, _gm, prefix, streets = rng.choice(places)
        tv, last = rng.choice(LAST_NAMES)
        name = f"{(tv + ' ' if tv else '').capitalize()}{last} {rng.choice(COMPANY_KINDS[sector])}".strip()
        slug = "".join(ch for ch in name.lower() if ch.isalnum())[:24]
        rows.append(
            (code, name, f"{rng.randint(10_000_000, 99_999_999)}", rng.choice(streets), str(rng.randint(1, 250)),
             postal_code(rng, prefix), city, f"0{rng.randint(30, 35)}-{rng.randint(1_000_000, 9_999_999)}",
             f"stage@{slug}.example.nl", f"https://www.{slug}.example.nl", sector)
        )
        for program in rng.sample(by_sector[sector], k=min(len(by_sector[sector]), rng.randint(1, 3))):
            recognitions.append(
                (code, program["crebo"], program["leerweg"], "2020-01-01", None, "erkend")
            )
            recognised.setdefault((program["crebo"], program["leerweg"]), []).append(code)
    # every program has at least one leerbedrijf, so every internship can be placed
    for program in programs_:
        pair = (program["crebo"], program["leerweg"])
        if pair not in recognised:
            code = rows[rng.randrange(len(rows))][0]
            recognitions.append((code, program["crebo"], program["leerweg"], "2020-01-01", None, "erkend"))
            recognised[pair] = [code]
    return rows, recognitions, recognised
