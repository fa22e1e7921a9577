"""The synthetic college: people, enrollments and everything that hangs off them.

``generate(students, seed)`` returns ``{object type: [row tuples]}`` with the tuples in the
column order of the model (``created_at``/``updated_at`` left to the database). Everything comes
from one ``random.Random(seed)`` and fixed dates around the school year 2026-2027, so the same
seed gives the same college on any machine and any day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import unicodedata
import uuid

from runtime.sis.seed import catalogue, dutch, guardians
from runtime.sis.seed.absence import absences_and_reports

D = dt.date
#: person and student numbers: students S100001.. with persons P100001.., applicants who are not
#: (yet) students P600001.., staff P900001.. (and staff numbers D10001..)
FIRST_NUMBER = 100_001
APPLICANT_PERSONS = 600_001
STAFF_PERSONS = 900_001
MAIL_DOMAIN = "koppelcollege.example.nl"
#: of the students who started this school year, this many per thousand arrived after the last
#: nightly run of interface 13 and have no ECK-iD yet (about 5% of the college, never none)
NEW_WITHOUT_ECK_ID_PER_MILLE = 120


#: the generic exam parts of an entree diploma as DUO's GEO codes (assumed codes: DUO's code
#: list is not public, docs/legal-notes.md); Engels is not part of entree (level 1)
GENERIC_EXAM_PARTS_ENTREE = (("NL", "Nederlands"), ("REK", "Rekenen"))


def vsv_location_code(location_code: str | None) -> str | None:
    """A location's NHR vestigingsnummer (12 digits): a stable stand-in number per location."""
    if not location_code:
        return None
    return f"{int(hashlib.sha256(location_code.encode()).hexdigest()[:12], 16) % 10**12:012d}"


class College:
    def __init__(self, students: int, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.n = students
        self.rows: dict[str, list[tuple]] = {name: [] for name in _ORDER}
        self.ids: set[str] = set()
        self.brin = catalogue.brin(self.rng)
        self.accounts: set[str] = set()
        self.counters: dict[str, int] = {}
        self.staff_person: dict[str, str] = {}

    # --- helpers --------------------------------------------------------------------------

    def next_id(self, prefix: str, start: int = 1) -> str:
        value = self.counters.get(prefix, start)
        self.counters[prefix] = value + 1
        return f"{prefix}{value}"

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def person(
        self, birth_year: tuple[int, int], *, number: str, with_bsn: bool = True, staff: bool = False
    ) -> dict:
        rng = self.rng
        gender = rng.choices("MVO", weights=(48, 49, 3))[0]
        pool = {"M": dutch.FIRST_NAMES_M, "V": dutch.FIRST_NAMES_V, "O": dutch.FIRST_NAMES_O}[gender]
        given = rng.choice(pool)
        first_names = " ".join([given] + rng.sample(pool, k=rng.randint(0, 2)))
        tussenvoegsel, last_name = rng.choice(dutch.LAST_NAMES)
        city, municipality, prefix, streets = rng.choice(dutch.PLACES)
        start = D(birth_year[0], 1, 1).toordinal()
        birth = D.fromordinal(rng.randint(start, D(birth_year[1], 12, 31).toordinal()))
        bsn = dutch.bsn(rng, self.ids) if with_bsn else None
        onderwijsnummer = None if with_bsn else dutch.onderwijsnummer(rng, self.ids)
        plain = _ascii(f"{given}.{tussenvoegsel}{last_name}".replace(" ", "").replace("'", "")).lower()
        account = None
        if staff:
            account = _ascii(f"{given[0]}{last_name}".replace(" ", "")).lower()
            while account in self.accounts:
                account += str(rng.randint(0, 9))
            self.accounts.add(account)
        row: tuple = (
            number, bsn, onderwijsnummer, first_names, given, dutch.initials(first_names), tussenvoegsel or None,
            last_name, birth.isoformat(), gender, rng.choice(streets), str(rng.randint(1, 180)),
            rng.choice((None, None, None, None, "A", "bis", "2")), dutch.postal_code(rng, prefix), city,
            municipality, "NL", f"06{rng.randint(10_000_000, 99_999_999)}",
            f"{plain}{rng.randint(1, 99)}@example.nl",
            f"{account}@{MAIL_DOMAIN}" if account else None, account,
            f"https://ketenid.nl/201703/{self.rng.getrandbits(128):032x}" if staff or rng.random() < 0.4 else None,
        )
        row += (_pgn_kind(row[1], row[2]) if row[-1] else None,)  # person.eck_id_pgn
        self.rows["person"].append(row)
        return {"number": number, "birth": birth, "given": given, "last": last_name, "tv": tussenvoegsel}

    # --- the college ----------------------------------------------------------------------

    def build(self) -> dict[str, list[tuple]]:
        rng = self.rng
        self.rows["qualification"] = catalogue.qualification_rows()
        programs = catalogue.programs()
        self.rows["program"] = [
            (p["program_code"], p["crebo"], p["name"], p["level"], p["leerweg"], p["duration_months"], p["department"])
            for p in programs
        ]
        self.rows["offering"], self.rows["cohort"] = catalogue.offerings_and_cohorts(rng, self.brin, programs)
        companies, recognitions, recognised = catalogue.companies(
            rng, max(20, self.n // 8), programs, dutch.PLACES, self.ids
        )
        self.rows["company"], self.rows["recognition"] = companies, recognitions
        staff_by_department = self.staff(programs)
        students = [self.student(programs, recognised) for _ in range(self.n)]
        self.ensure_one_without_eck_id()
        self.groups(programs, students, staff_by_department)
        self.applicants(programs)
        self.rows["absence"], self.rows["absence_report"] = absences_and_reports(rng, students)
        self.rows["guardian"] = guardians.rows(self.seed, self.rows["person"], self.staff_person.values())
        # No invoice lines: the SIS receives them from Exact (interface 21), it does not make them.
        return self.rows

    def staff(self, programs: list[dict]) -> dict[str, list[str]]:
        departments = sorted({p["department"] for p in programs})
        by_department: dict[str, list[str]] = {d: [] for d in departments}
        for i in range(max(len(departments) * 2, self.n // 20)):
            department = departments[i % len(departments)]
            person = self.person((1960, 1998), number=self.next_id("P", STAFF_PERSONS), staff=True)
            number = self.next_id("D", 10001)
            function = self.rng.choice(("docent", "docent", "docent", "instructeur", "examinator"))
            self.rows["staff"].append((number, person["number"], function, department, "2015-08-01", None))
            self.rows["role_assignment"].append((person["number"], "docent", department, "sis", "2015-08-01", None))
            by_department[department].append(number)
            self.staff_person[number] = person["number"]
        return by_department

    def student(self, programs: list[dict], recognised: dict) -> dict:
        rng = self.rng
        program = rng.choice(programs)
        years = [y for y in (2024, 2025, 2026) if 2026 - y < program["duration_months"] // 12] or [2026]
        year = rng.choice(years)
        cohort_code, start = rng.choice(program["cohorts"][year])
        age_at_start = rng.choices((15, 16, 17, 18, 19, 21), weights=(5, 40, 25, 15, 10, 5))[0]
        birth_years = (start.year - age_at_start - 1, start.year - age_at_start - 1)
        # student S100001 is person P100001: numbers a reader can match at a glance
        number = self.next_id("S", FIRST_NUMBER)
        person = self.person(birth_years, number="P" + number[1:], with_bsn=rng.random() > 0.03)
        self.student_eck_id(person["number"], new=year == 2026)
        has_startkwalificatie = age_at_start >= 19 and rng.random() < 0.3
        student = {
            "number": number, "person": person["number"], "birth": person["birth"], "program": program,
            "start": start, "has_startkwalificatie": has_startkwalificatie, "year": year,
        }
        self.rows["role_assignment"].append((person["number"], "student", "", "sis", start.isoformat(), None))
        volgnummer = 1
        if rng.random() < 0.1:  # an earlier enrollment, ended: entree or a switch of program
            self.earlier_enrollment(student, programs)
            volgnummer = 2
        self.enrollment(student, cohort_code, volgnummer, recognised)
        self.rows["student"].append((number, person["number"], "actief", has_startkwalificatie, None))
        return student

    def student_eck_id(self, person_number: str, *, new: bool) -> None:
        """Interface 13 has run every night for years: a student who started before this school
        year has an ECK-iD, and so has nearly every new one; only the latest arrivals (a hash of
        the person number picks about one in eight new students) wait for tonight's run. The
        value is a hash too, not a draw, so the rest of the college stays as it was."""
        digest = hashlib.sha256(f"{self.seed}:{person_number}".encode()).hexdigest()
        waiting = new and int(digest[:6], 16) % 1000 < NEW_WITHOUT_ECK_ID_PER_MILLE
        eck_id = None if waiting else f"https://ketenid.nl/201703/{digest}"
        row = self.rows["person"][-1]
        self.rows["person"][-1] = row[:-2] + (eck_id, _pgn_kind(row[1], row[2]) if eck_id else None)

    def ensure_one_without_eck_id(self) -> None:
        """A college always has someone for interface 13 to ask about: the last student."""
        students = {row[1] for row in self.rows["student"]}
        rows = self.rows["person"]
        indexes = [i for i, row in enumerate(rows) if row[0] in students]
        if indexes and all(rows[i][-2] is not None for i in indexes):  # eck_id, eck_id_pgn last
            rows[indexes[-1]] = rows[indexes[-1]][:-2] + (None, None)

    def earlier_enrollment(self, student: dict, programs: list[dict]) -> None:
        rng = self.rng
        previous = rng.choice([p for p in programs if p["level"] <= 2] or programs)
        start = D(student["start"].year - 1, 8, 25)
        end = D(student["start"].year, 7, 10)
        enrollment_id = f"{student['number']}-1"
        self.rows["enrollment"].append(
            (enrollment_id, student["number"], previous["program_code"], None, 1, self.brin, start.isoformat(),
             end.isoformat(), end.isoformat(), previous["leerweg"], True, previous["location_code"], "beeindigd",
             "diploma behaald" if previous["level"] == 1 else "overstap andere opleiding",
             vsv_location_code(previous["location_code"]))
        )
        self.rows["enrollment_period"].append(
            (enrollment_id, 1, start.isoformat(), end.isoformat(), previous["crebo"], previous["level"],
             previous["leerweg"], True, previous["location_code"])
        )
        if previous["level"] == 1:
            diploma_id = self.next_id("R", 1_000_001)
            self.rows["result"].append(
                (diploma_id, student["number"], enrollment_id, "diploma", None,
                 f"Diploma {previous['name']}", None, None, True, end.isoformat(), previous["crebo"], "sis", None, None)
            )
            self.diploma_parts(diploma_id, student["number"], enrollment_id, end)

    def enrollment(self, student: dict, cohort_code: str, volgnummer: int, recognised: dict) -> None:
        rng, program, start = self.rng, student["program"], student["start"]
        enrollment_id = f"{student['number']}-{volgnummer}"
        student["enrollment"] = enrollment_id
        planned_end = D(start.year + program["duration_months"] // 12, 7, 10)
        bekostigbaar = rng.random() > 0.02
        self.rows["enrollment"].append(
            (enrollment_id, student["number"], program["program_code"], cohort_code, volgnummer, self.brin,
             start.isoformat(), planned_end.isoformat(), None, program["leerweg"], bekostigbaar,
             program["location_code"], "actief", None, vsv_location_code(program["location_code"]))
        )
        period_start = start
        periods = 2 if student["year"] < 2026 and rng.random() < 0.3 else 1
        for number in range(1, periods + 1):
            end = D(2026, 7, 31) if number < periods else None
            self.rows["enrollment_period"].append(
                (enrollment_id, number, period_start.isoformat(), end and end.isoformat(), program["crebo"],
                 program["level"], program["leerweg"], bekostigbaar, program["location_code"])
            )
            period_start = D(2026, 8, 1)
        channel = rng.choices(("centraal_aanmelden", "aanmeldmodule", "balie"), weights=(80, 15, 5))[0]
        aanmeld_id = self.next_id("AM", 26_000_001)
        submitted = dt.datetime(start.year, 1, 1, 9) + dt.timedelta(minutes=rng.randint(0, 120 * 24 * 60))
        self.rows["application"].append(
            (aanmeld_id, student["person"], cohort_code, channel, "ingeschreven", start.isoformat(),
             submitted.strftime("%Y-%m-%d %H:%M:%S.%f"), f"{rng.randint(10, 31)}{rng.choice('ABCDEFGH')}{rng.choice('ABCDEFGH')}",
             rng.choice(("vmbo-kb", "vmbo-gl", "vmbo-tl", "vmbo-bb", "havo", "entree")), enrollment_id,
             program["program_code"])
        )
        signing = "ondertekend"
        if student["year"] == 2026:
            signing = rng.choices(("ondertekend", "te_ondertekenen", "verstuurd"), weights=(80, 15, 5))[0]
        self.document(student["number"], enrollment_id, None, "onderwijsovereenkomst",
                      f"Onderwijsovereenkomst {program['name']}", signing)
        if rng.random() < 0.03:
            self.document(student["number"], None, None, "verblijfsdocument", "Verblijfsdocument", "niet_nodig")
        self.internship(student, enrollment_id, recognised)
        self.results(student, enrollment_id)
        if rng.random() < 0.2:
            self.exam_candidate(student, enrollment_id)

    def internship(self, student: dict, enrollment_id: str, recognised: dict) -> None:
        rng, program = self.rng, student["program"]
        bbl = program["leerweg"] == "BBL"
        if not bbl and (student["year"] == 2026 or rng.random() < 0.3):
            return
        sbb_code = rng.choice(recognised[(program["crebo"], program["leerweg"])])
        start = max(student["start"], D(2026, 9, 7)) if not bbl else student["start"]
        end = D(2027, 1, 29) if not bbl else D(start.year + 1, 7, 10)
        status = "lopend" if start <= D(2026, 11, 1) else "gepland"
        supervisor_tv, supervisor_last = rng.choice(dutch.LAST_NAMES)
        internship_id = self.next_id("BPV", 500_001)
        self.rows["internship"].append(
            (internship_id, enrollment_id, sbb_code, 1, program["crebo"], start.isoformat(), end.isoformat(),
             None, (start - dt.timedelta(days=21)).isoformat() if status == "lopend" else None,
             rng.choice((1200, 1400, 1600)) if bbl else rng.choice((400, 480, 640, 800)),
             status, f"{rng.choice(dutch.FIRST_NAMES_V + dutch.FIRST_NAMES_M)} {(supervisor_tv + ' ') if supervisor_tv else ''}{supervisor_last}",
             f"praktijkopleider{rng.randint(1, 999)}@example.nl")
        )
        # a planned BPV's agreement is not signed yet: no afsluitdatum, so DUO hears of it once it is
        self.document(student["number"], enrollment_id, None, "bpvo", f"Praktijkovereenkomst {internship_id}",
                      "te_ondertekenen" if status == "gepland" else "ondertekend")

    def results(self, student: dict, enrollment_id: str) -> None:
        rng, program = self.rng, student["program"]
        for i in range(rng.randint(3, 7)):
            grade = round(rng.triangular(3.0, 10.0, 7.0), 1)
            self.rows["result"].append(
                (self.next_id("R", 1_000_001), student["number"], enrollment_id, "formatief",
                 f"{program['crebo']}-K{i + 1}", f"Opdracht {i + 1} {program['name']}", f"{grade:.1f}", grade,
                 grade >= 5.5, (D(2026, 9, 14) + dt.timedelta(days=rng.randint(0, 60))).isoformat(), None, "dlo",
                 None, None)
            )
        if student["year"] < 2026:
            passed = rng.random() < 0.85
            self.rows["result"].append(
                (self.next_id("R", 1_000_001), student["number"], enrollment_id, "examen",
                 f"{program['crebo']}-PVB-1", f"Proeve van bekwaamheid {program['name']}",
                 "V" if passed else "O", None, passed, D(2026, 6, rng.randint(1, 26)).isoformat(), program["crebo"],
                 rng.choice(("remindo", "facet", "toa")), None, None)
            )

    def diploma_parts(self, diploma_id: str, student_number: str, enrollment_id: str, on: dt.date) -> None:
        """The generic exam parts and a keuzedeel of a diploma (ROD GEO and KZD). Grades from a
        hash of the diploma id, not from the random stream: the rest of the college stays as it was."""
        digest = hashlib.sha256(f"{self.seed}:{diploma_id}".encode()).digest()
        for i, (code, name) in enumerate(GENERIC_EXAM_PARTS_ENTREE):
            grade = 6 + digest[i] % 4
            self.rows["result"].append(
                (f"{diploma_id}-{code}", student_number, enrollment_id, "generiek_examen", None, name,
                 str(grade), float(grade), True, on.isoformat(), None, "sis", diploma_id, code)
            )
        keuzedeel = f"K{1000 + digest[5] % 900:04d}"
        self.rows["result"].append(
            (f"{diploma_id}-{keuzedeel}", student_number, enrollment_id, "keuzedeel", None, f"Keuzedeel {keuzedeel}",
             "V", None, True, on.isoformat(), None, "sis", diploma_id, keuzedeel)
        )

    def exam_candidate(self, student: dict, enrollment_id: str) -> None:
        rng, program = self.rng, student["program"]
        candidate_id = self.next_id("EXC", 700_001)
        self.rows["exam_candidate"].append(
            (candidate_id, student["number"], enrollment_id, f"{program['crebo']}-EX-{rng.randint(1, 4)}",
             f"Examen {program['name']}", D(2026, rng.choice((11, 12)), rng.randint(1, 28)).isoformat(),
             rng.choice(("remindo", "facet", "toa")), "gepland")
        )
        if rng.random() < 0.15:
            for aid, description, minutes in rng.sample(_AIDS, k=rng.randint(1, 2)):
                self.rows["exam_aid"].append((candidate_id, aid, description, minutes))

    def document(  # noqa: ANN001
        self, student_number, enrollment_id, aanmeld_id, kind: str, title: str, signing: str, person_number=None
    ) -> None:
        person_number = person_number or ("P" + student_number[1:] if student_number else None)
        document_id = self.next_id("DOC", 900_001)
        signed = signing == "ondertekend"
        self.rows["document"].append(
            (document_id, student_number, enrollment_id, aanmeld_id, kind, title,
             # final once signed (or when no signature is needed): then it goes to the DMS
             "definitief" if signing in ("ondertekend", "niet_nodig") else "concept", signing,
             f"{document_id}.pdf", "application/pdf", f"{self.rng.getrandbits(256):064x}",
             self.uuid() if signing != "niet_nodig" and signing != "te_ondertekenen" else None,
             "2026-08-15 10:00:00.000000" if signed else None, None, person_number)
        )

    def groups(self, programs: list[dict], students: list[dict], staff: dict[str, list[str]]) -> None:
        rng = self.rng
        by_cohort: dict[tuple[str, int], list[dict]] = {}
        for student in students:
            by_cohort.setdefault((student["program"]["program_code"], student["year"]), []).append(student)
        # every program has a class A in each year it runs, also when this college is small: the
        # timetable stand-in schedules <program_code>-<year>-A
        for program in programs:
            for year in (2024, 2025, 2026):
                if 2026 - year < max(1, program["duration_months"] // 12):
                    by_cohort.setdefault((program["program_code"], year), [])
        student_rows = {row[0]: i for i, row in enumerate(self.rows["student"])}
        mentors: set[str] = set()
        for (program_code, year), members in by_cohort.items():
            program = next(p for p in programs if p["program_code"] == program_code)
            for index in range(0, max(1, len(members)), 24):
                letter = chr(ord("A") + index // 24) if index // 24 < 26 else str(index // 24)
                code = f"{program_code}-{year}-{letter}"
                mentor = rng.choice(staff[program["department"]])
                self.rows["group"].append(
                    (code, f"{program['name']} {year} {letter}", "klas", program_code, f"{program_code}-{year}",
                     "2026-2027", "2026-08-24", "2027-07-10")
                )
                self.rows["membership"].append((code, self.staff_person[mentor], "mentor", "2026-08-24", None))
                mentors.add(mentor)
                for student in members[index:index + 24]:
                    self.rows["membership"].append((code, student["person"], "student", "2026-08-24", None))
                    i = student_rows[student["number"]]
                    self.rows["student"][i] = self.rows["student"][i][:4] + (mentor,)
                self.timetable(code, program, mentor)
        for staff_number in sorted(mentors):
            self.rows["role_assignment"].append(
                (self.staff_person[staff_number], "mentor", "", "sis", "2026-08-24", None)
            )

    def timetable(self, group_code: str, program: dict, teacher: str) -> None:
        rng = self.rng
        for day in range(5):
            date = D(2026, 9, 7) + dt.timedelta(days=day)
            for slot, (start, end) in enumerate(((8, 30), (10, 15), (12, 30))):
                begin = dt.datetime.combine(date, dt.time(start, end))
                self.rows["timetable_activity"].append(
                    (self.next_id("XED", 3_000_001), date.isoformat(), begin.strftime("%Y-%m-%d %H:%M:%S.%f"),
                     (begin + dt.timedelta(minutes=90)).strftime("%Y-%m-%d %H:%M:%S.%f"),
                     f"{program['crebo']}-K{slot + 1}", f"Les {program['name']}", "les", group_code, teacher,
                     f"{rng.choice('ABC')}{rng.randint(0, 3)}.{rng.randint(1, 30):02d}", program["location_code"])
                )

    def applicants(self, programs: list[dict]) -> None:
        """People who applied for 2027 (or were turned down for 2026): every other status."""
        rng = self.rng
        statuses = ("aangemeld", "onderwijsovereenkomst_aangeboden", "leidt_niet_tot_inschrijving", "ingetrokken")
        for i in range(max(len(statuses), self.n * 3 // 10)):
            status = statuses[i] if i < len(statuses) else rng.choices(statuses, weights=(45, 25, 15, 15))[0]
            program = rng.choice(programs)
            year = 2027 if status in ("aangemeld", "onderwijsovereenkomst_aangeboden") else rng.choice((2026, 2027))
            cohort_code, start = program["cohorts"][year][0]
            person = self.person(
                (start.year - 17, start.year - 15), number=self.next_id("P", APPLICANT_PERSONS),
                with_bsn=rng.random() > 0.03,
            )
            aanmeld_id = self.next_id("AM", 26_000_001)
            submitted = dt.datetime(start.year - 1, 10, 1, 9) + dt.timedelta(minutes=rng.randint(0, 150 * 24 * 60))
            self.rows["application"].append(
                (aanmeld_id, person["number"], cohort_code,
                 rng.choices(("centraal_aanmelden", "aanmeldmodule", "balie"), weights=(80, 15, 5))[0], status,
                 submitted.date().isoformat(), submitted.strftime("%Y-%m-%d %H:%M:%S.%f"),
                 f"{rng.randint(10, 31)}{rng.choice('ABCDEFGH')}{rng.choice('ABCDEFGH')}",
                 rng.choice(("vmbo-kb", "vmbo-gl", "vmbo-tl", "vmbo-bb", "havo")), None, program["program_code"])
            )
            if status == "onderwijsovereenkomst_aangeboden":
                self.document(None, None, aanmeld_id, "onderwijsovereenkomst",
                              f"Onderwijsovereenkomst {program['name']}", "te_ondertekenen", person["number"])


_AIDS = (
    ("extra_tijd", "Verlenging van de examentijd", 30),
    ("voorleessoftware", "Voorleessoftware (dyslexie)", None),
    ("vergrote_letters", "Examen in vergrote letters", None),
    ("aparte_ruimte", "Examen in een aparte ruimte", None),
)

#: insert order: referenced tables first
_ORDER = (
    "qualification", "program", "offering", "cohort", "company", "recognition", "person", "guardian", "staff", "student",
    "enrollment", "enrollment_period", "application", "group", "membership", "role_assignment", "internship",
    # reports before absence: the verzuim triggers see the seeded reports and add none of their own
    "exam_candidate", "exam_aid", "result", "absence_report", "absence", "document", "invoice_line",
    "timetable_activity",
)


def _pgn_kind(bsn: str | None, onderwijsnummer: str | None) -> str | None:
    """Which number interface 13 derived an ECK-iD from: the BSN, else the onderwijsnummer."""
    return "bsn" if bsn else "onderwijsnummer" if onderwijsnummer else None


def _ascii(value: str) -> str:
    return unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()


def generate(students: int, seed: int) -> dict[str, list[tuple]]:
    rows = College(students, seed).build()
    return {name: rows[name] for name in _ORDER}
