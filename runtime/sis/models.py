"""The SIS store's tables: one per object type, named exactly as the object (``object:`` in YAML).

Conventions, the same on every table:
- The natural key is the primary key: the identifier the college and its partners use
  (student number, aanmeldID, 9-digit SBB code, crebo). Objects refer to each other by natural
  key too, so a record read from one table can be written to another without looking up
  surrogate ids. Composite natural keys (membership, recognition, role_assignment, exam_aid,
  enrollment_period) appear in the outbox ``key`` joined with ``|`` in the column order of
  ``natural_key(object)``.
- ``created_at`` and ``updated_at`` (UTC) are set by the database: defaults on insert, and a
  trigger on update, so that a change made by any client (psql, sqlite3) moves the watermark.
- Coded values are Dutch domain terms held in text columns with CHECK constraints (portable
  between SQLite and PostgreSQL, and cheap to extend in a migration).
- ``person.bsn`` is personal data: never log it (``runtime.redact``).
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.functions import FunctionElement

APPLICATION_STATUSES = (
    "aangemeld",
    "onderwijsovereenkomst_aangeboden",
    "leidt_niet_tot_inschrijving",
    "ingetrokken",
    "ingeschreven",
)
#: DUO's leertrajecten (code list of the PvE MBO-instelling §16.6, the same as RIO's
#: leertrajectMBO): BOL, BBL, OVO, EX (examendeelnemer) and ODT; BOL_DT ended on 31-07-2023.
LEERWEGEN = ("BOL", "BBL", "OVO", "EX", "ODT")
#: the leerwegen an SBB erkenning is given for (a leerbedrijf trains BOL or BBL students)
ERKENNING_LEERWEGEN = ("BOL", "BBL")
#: kinds of verzuimmelding (``runtime.sis.verzuim.KINDS``)
ABSENCE_REPORT_KINDS = ("ongeoorloofd_16_uur", "langdurig", "luxe", "overig")
#: kinds of result; a diploma's generic exam parts (Nederlands, rekenen, Engels) and keuzedelen
#: point at it with ``diploma_result_id`` and carry DUO's code (ROD GEO and KZD)
RESULT_KINDS = ("formatief", "examen", "diploma", "generiek_examen", "keuzedeel")
GENDERS = ("M", "V", "O")
#: what SBB's list holds (interface 9) and what SBB says of an internship's erkenning (interface 8)
QUALIFICATION_KINDS = ("kwalificatie", "keuzedeel")
RECOGNITION_STATUSES = ("erkend", "beeindigd", "geschorst")
GUARDIAN_RELATIONS = ("ouder", "voogd", "anders")


class utcnow(FunctionElement):
    """The current UTC time as the database writes it; sortable text on SQLite (6 decimals)."""

    type = DateTime()
    inherit_cache = True


@compiles(utcnow, "sqlite")
def _utcnow_sqlite(element, compiler, **kw):  # noqa: ANN001
    # Same layout as SQLAlchemy writes from Python, so the column sorts and parses uniformly.
    return "(strftime('%Y-%m-%d %H:%M:%f000', 'now'))"


@compiles(utcnow)
def _utcnow_default(element, compiler, **kw):  # noqa: ANN001
    return "CURRENT_TIMESTAMP"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Stamped:
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=utcnow())
    # indexed with the natural key (ix_<table>_watermark, below): watermark reads page by it
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=utcnow())


def fk(target: str, *, nullable: bool = False, index: bool = True, ondelete: str | None = None):
    """A reference by natural key: ``fk("student.student_number")``."""
    return mapped_column(
        String(64), ForeignKey(target, onupdate="CASCADE", ondelete=ondelete), nullable=nullable, index=index
    )


# --- people -------------------------------------------------------------------------------


class Person(Stamped, Base):
    __tablename__ = "person"
    person_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    bsn: Mapped[str | None] = mapped_column(String(9), unique=True)
    onderwijsnummer: Mapped[str | None] = mapped_column(String(9), unique=True)
    first_names: Mapped[str | None] = mapped_column(String(200))
    given_name: Mapped[str | None] = mapped_column(String(100))  # roepnaam
    initials: Mapped[str | None] = mapped_column(String(30))
    tussenvoegsel: Mapped[str | None] = mapped_column(String(30))
    last_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(1))
    street: Mapped[str | None] = mapped_column(String(200))
    house_number: Mapped[str | None] = mapped_column(String(10))
    house_number_suffix: Mapped[str | None] = mapped_column(String(10))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    city: Mapped[str | None] = mapped_column(String(100))
    municipality_code: Mapped[str | None] = mapped_column(String(4))  # CBS gemeentecode, for verzuim
    country_code: Mapped[str] = mapped_column(String(2), default="NL", server_default="NL")
    phone: Mapped[str | None] = mapped_column(String(30))
    email_private: Mapped[str | None] = mapped_column(String(254))
    email_school: Mapped[str | None] = mapped_column(String(254), unique=True)
    account_name: Mapped[str | None] = mapped_column(String(100), unique=True)
    eck_id: Mapped[str | None] = mapped_column(String(200))
    # which persoonsgebonden nummer the ECK-iD was derived from (since 0007): when a student known
    # by an onderwijsnummer later gets a BSN, interface 13 calls replaceStampseudonym
    eck_id_pgn: Mapped[str | None] = mapped_column(String(20))
    __table_args__ = (
        CheckConstraint(_in("gender", GENDERS), name="gender"),
        CheckConstraint("bsn IS NULL OR length(bsn) = 9", name="bsn_length"),
        CheckConstraint("onderwijsnummer IS NULL OR length(onderwijsnummer) = 9", name="onderwijsnummer_length"),
    )


class Student(Stamped, Base):
    __tablename__ = "student"
    student_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_number: Mapped[str] = fk("person.person_number")
    status: Mapped[str] = mapped_column(String(20), default="actief", server_default="actief")
    has_startkwalificatie: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    mentor_staff_number: Mapped[str | None] = fk("staff.staff_number", nullable=True)
    __table_args__ = (
        UniqueConstraint("person_number"),
        CheckConstraint(_in("status", ("aangemeld", "actief", "uitgeschreven")), name="status"),
    )


class Guardian(Stamped, Base):
    """A parent or guardian of a person (student or applicant), since 0007. The wettelijk
    vertegenwoordiger of a minor co-signs the onderwijsovereenkomst and a BPV agreement (interface 14)."""

    __tablename__ = "guardian"
    guardian_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_number: Mapped[str] = fk("person.person_number")  # whose guardian
    relation: Mapped[str] = mapped_column(String(20), default="ouder", server_default="ouder")
    legal_representative: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    first_names: Mapped[str | None] = mapped_column(String(200))
    initials: Mapped[str | None] = mapped_column(String(30))
    tussenvoegsel: Mapped[str | None] = mapped_column(String(30))
    last_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(30))
    __table_args__ = (CheckConstraint(_in("relation", GUARDIAN_RELATIONS), name="relation"),)


class Staff(Stamped, Base):
    __tablename__ = "staff"
    staff_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_number: Mapped[str] = fk("person.person_number")
    function: Mapped[str | None] = mapped_column(String(100))  # docent, mentor, examinator, ...
    department: Mapped[str | None] = mapped_column(String(100))
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    __table_args__ = (UniqueConstraint("person_number"),)


# --- catalogue ----------------------------------------------------------------------------


class Qualification(Stamped, Base):
    """An entry of the kwalificatiestructuur (SBB crebo list)."""

    __tablename__ = "qualification"
    crebo: Mapped[str] = mapped_column(String(5), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[int] = mapped_column(Integer)
    dossier_crebo: Mapped[str | None] = mapped_column(String(5))
    dossier_name: Mapped[str | None] = mapped_column(String(200))
    sector: Mapped[str | None] = mapped_column(String(100))
    price_factor: Mapped[float | None] = mapped_column(Float)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    # since 0008: SBB's list holds keuzedelen too (K-codes), which ROD (KZD), exams and RIO need
    kind: Mapped[str] = mapped_column(String(12), default="kwalificatie", server_default="kwalificatie")
    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 4", name="level"),
        CheckConstraint(_in("kind", QUALIFICATION_KINDS), name="kind"),
    )


class Program(Stamped, Base):
    """An opleiding: a qualification taught in one leerweg."""

    __tablename__ = "program"
    program_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    crebo: Mapped[str] = fk("qualification.crebo")
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[int] = mapped_column(Integer)
    leerweg: Mapped[str] = mapped_column(String(3))
    duration_months: Mapped[int | None] = mapped_column(Integer)
    department: Mapped[str | None] = mapped_column(String(100))
    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 4", name="level"),
        CheckConstraint(_in("leerweg", LEERWEGEN), name="leerweg"),
    )


class Offering(Stamped, Base):
    """An aangeboden opleiding as registered in RIO."""

    __tablename__ = "offering"
    offering_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    program_code: Mapped[str] = fk("program.program_code")
    rio_code: Mapped[str | None] = mapped_column(String(64), unique=True)  # aangebodenOpleidingCode
    opleidingseenheid_code: Mapped[str | None] = mapped_column(String(20))  # RIO, e.g. 1234O5678
    onderwijsaanbieder_code: Mapped[str | None] = mapped_column(String(20))  # RIO nnnAnnn
    location_code: Mapped[str | None] = mapped_column(String(20))  # RIO onderwijslocatie nnnXnnn
    brin: Mapped[str] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    published: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class Cohort(Stamped, Base):
    __tablename__ = "cohort"
    cohort_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    offering_code: Mapped[str] = fk("offering.offering_code")
    start_date: Mapped[dt.date] = mapped_column(Date)
    aanmeld_start: Mapped[dt.date | None] = mapped_column(Date)
    aanmeld_end: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(1), default="O", server_default="O")  # RIO O/G
    capacity: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (CheckConstraint(_in("status", ("O", "G")), name="status"),)


# --- enrollment ---------------------------------------------------------------------------


class Enrollment(Stamped, Base):
    """An inschrijving (onderwijsovereenkomst); volgnummer as reported to DUO."""

    __tablename__ = "enrollment"
    enrollment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    student_number: Mapped[str] = fk("student.student_number")
    program_code: Mapped[str] = fk("program.program_code")
    cohort_code: Mapped[str | None] = fk("cohort.cohort_code", nullable=True)
    volgnummer: Mapped[int] = mapped_column(Integer)
    brin: Mapped[str] = mapped_column(String(4))
    start_date: Mapped[dt.date] = mapped_column(Date)
    planned_end_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    leertraject: Mapped[str] = mapped_column(String(3))
    bekostigbaar: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    location_code: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="actief", server_default="actief")
    exit_reason: Mapped[str | None] = mapped_column(String(100))
    vsv_location_code: Mapped[str | None] = mapped_column(String(12))  # ROD locatiecodeVSV (NHR), since 0006
    __table_args__ = (
        UniqueConstraint("student_number", "volgnummer"),
        CheckConstraint(_in("leertraject", LEERWEGEN), name="leertraject"),
        CheckConstraint(_in("status", ("actief", "beeindigd", "gepland")), name="status"),
    )


class EnrollmentPeriod(Stamped, Base):
    """An inschrijvingsperiode (ISP): what was funded when; a new one on each relevant change."""

    __tablename__ = "enrollment_period"
    enrollment_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("enrollment.enrollment_id", onupdate="CASCADE", ondelete="CASCADE"), primary_key=True
    )
    period_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    crebo: Mapped[str] = mapped_column(String(5))
    level: Mapped[int] = mapped_column(Integer)
    leertraject: Mapped[str] = mapped_column(String(3))
    bekostigbaar: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    location_code: Mapped[str | None] = mapped_column(String(20))
    __table_args__ = (CheckConstraint(_in("leertraject", LEERWEGEN), name="leertraject"),)


class Application(Stamped, Base):
    """An aanmelding; ``status`` holds one of the five legal statuses."""

    __tablename__ = "application"
    aanmeld_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_number: Mapped[str | None] = fk("person.person_number", nullable=True)
    cohort_code: Mapped[str] = fk("cohort.cohort_code")
    channel: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(40), default="aangemeld", server_default="aangemeld")
    status_date: Mapped[dt.date | None] = mapped_column(Date)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    previous_school_brin: Mapped[str | None] = mapped_column(String(4))
    previous_education: Mapped[str | None] = mapped_column(String(100))
    enrollment_id: Mapped[str | None] = fk("enrollment.enrollment_id", nullable=True)
    program_code: Mapped[str | None] = fk("program.program_code", nullable=True)  # since 0002
    __table_args__ = (
        CheckConstraint(_in("status", APPLICATION_STATUSES), name="status"),
        CheckConstraint(_in("channel", ("centraal_aanmelden", "aanmeldmodule", "balie")), name="channel"),
    )


class Group(Stamped, Base):
    __tablename__ = "group"
    group_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="klas", server_default="klas")
    program_code: Mapped[str | None] = fk("program.program_code", nullable=True)
    cohort_code: Mapped[str | None] = fk("cohort.cohort_code", nullable=True)
    school_year: Mapped[str | None] = mapped_column(String(9))  # 2026-2027
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    __table_args__ = (CheckConstraint(_in("kind", ("klas", "lesgroep", "mentorgroep", "iam")), name="kind"),)


class Membership(Stamped, Base):
    __tablename__ = "membership"
    group_code: Mapped[str] = mapped_column(
        String(64), ForeignKey("group.group_code", onupdate="CASCADE", ondelete="CASCADE"), primary_key=True
    )
    person_number: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.person_number", onupdate="CASCADE", ondelete="CASCADE"), primary_key=True,
        index=True,
    )
    role: Mapped[str] = mapped_column(String(20), default="student", server_default="student")
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    __table_args__ = (CheckConstraint(_in("role", ("student", "docent", "mentor")), name="role"),)


class RoleAssignment(Stamped, Base):
    """A role (and so rights) for a person, e.g. provisioned by the IAM; scope '' = everywhere."""

    __tablename__ = "role_assignment"
    person_number: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.person_number", onupdate="CASCADE", ondelete="CASCADE"), primary_key=True,
        index=True,
    )
    role: Mapped[str] = mapped_column(String(100), primary_key=True)
    scope: Mapped[str] = mapped_column(String(100), primary_key=True, default="", server_default="")
    source: Mapped[str] = mapped_column(String(20), default="sis", server_default="sis")
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    #: since 0008: the IAM group that granted it (its externalId), so a group's members are replaced
    #: per group: two groups may grant one role, each in its own scope
    granted_by: Mapped[str | None] = mapped_column(String(100))


# --- BPV ----------------------------------------------------------------------------------


class Company(Stamped, Base):
    """A leerbedrijf, identified by its 9-digit SBB code."""

    __tablename__ = "company"
    sbb_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kvk_number: Mapped[str | None] = mapped_column(String(8))
    street: Mapped[str | None] = mapped_column(String(200))
    house_number: Mapped[str | None] = mapped_column(String(10))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    city: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(254))
    website: Mapped[str | None] = mapped_column(String(254))
    branche: Mapped[str | None] = mapped_column(String(100))
    __table_args__ = (CheckConstraint("length(sbb_code) = 9", name="sbb_code_length"),)


class Recognition(Stamped, Base):
    """An erkenning: the company may train students for this crebo in this leerweg."""

    __tablename__ = "recognition"
    sbb_code: Mapped[str] = mapped_column(
        String(9), ForeignKey("company.sbb_code", onupdate="CASCADE", ondelete="CASCADE"), primary_key=True
    )
    crebo: Mapped[str] = mapped_column(String(5), primary_key=True)
    leerweg: Mapped[str] = mapped_column(String(3), primary_key=True)
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="erkend", server_default="erkend")
    __table_args__ = (CheckConstraint(_in("leerweg", ERKENNING_LEERWEGEN), name="leerweg"),)


class Internship(Stamped, Base):
    """A BPV (beroepspraktijkvorming) of an enrollment at a leerbedrijf."""

    __tablename__ = "internship"
    internship_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    enrollment_id: Mapped[str] = fk("enrollment.enrollment_id")
    sbb_code: Mapped[str] = fk("company.sbb_code")
    volgnummer: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    crebo: Mapped[str | None] = mapped_column(String(5))
    start_date: Mapped[dt.date] = mapped_column(Date)
    planned_end_date: Mapped[dt.date | None] = mapped_column(Date)
    actual_end_date: Mapped[dt.date | None] = mapped_column(Date)
    agreement_date: Mapped[dt.date | None] = mapped_column(Date)  # afsluitdatum BPVO
    hours: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="gepland", server_default="gepland")
    supervisor_name: Mapped[str | None] = mapped_column(String(200))  # praktijkopleider
    supervisor_email: Mapped[str | None] = mapped_column(String(254))
    # since 0008: SBB's verification of the erkenning for this crebo and leerweg on the start date
    # (interface 8): erkend when verified, beeindigd/geschorst when SBB's mutatieservice says so
    recognition_status: Mapped[str | None] = mapped_column(String(20))
    recognition_checked_on: Mapped[dt.date | None] = mapped_column(Date)
    __table_args__ = (
        CheckConstraint(_in("status", ("gepland", "lopend", "afgerond", "afgebroken")), name="status"),
        CheckConstraint(_in("recognition_status", RECOGNITION_STATUSES), name="recognition_status"),
        CheckConstraint("hours >= 0", name="hours"),
    )


# --- exams and results --------------------------------------------------------------------


class ExamCandidate(Stamped, Base):
    """A student to be examined in a digital test system (Remindo, Facet, TOA)."""

    __tablename__ = "exam_candidate"
    candidate_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    student_number: Mapped[str] = fk("student.student_number")
    enrollment_id: Mapped[str | None] = fk("enrollment.enrollment_id", nullable=True)
    exam_code: Mapped[str] = mapped_column(String(64))
    exam_name: Mapped[str | None] = mapped_column(String(200))
    exam_date: Mapped[dt.date | None] = mapped_column(Date)
    test_system: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="gepland", server_default="gepland")
    __table_args__ = (CheckConstraint(_in("test_system", ("remindo", "facet", "toa")), name="test_system"),)


class ExamAid(Stamped, Base):
    """A hulpmiddel or facility (extra time, read-aloud software) granted to an exam candidate."""

    __tablename__ = "exam_aid"
    candidate_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("exam_candidate.candidate_id", onupdate="CASCADE", ondelete="CASCADE"), primary_key=True
    )
    aid: Mapped[str] = mapped_column(String(50), primary_key=True)
    description: Mapped[str | None] = mapped_column(String(200))
    extra_minutes: Mapped[int | None] = mapped_column(Integer)


class Result(Stamped, Base):
    """A formative result, an exam result or a diploma."""

    __tablename__ = "result"
    result_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    student_number: Mapped[str] = fk("student.student_number")
    enrollment_id: Mapped[str | None] = fk("enrollment.enrollment_id", nullable=True)
    kind: Mapped[str] = mapped_column(String(20))
    course_code: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(200))
    grade: Mapped[str | None] = mapped_column(String(10))  # 7.5, V (voldoende), G (goed), O
    score: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    assessed_on: Mapped[dt.date | None] = mapped_column(Date)
    crebo: Mapped[str | None] = mapped_column(String(5))  # diplomas: the qualification
    source_system: Mapped[str | None] = mapped_column(String(30))
    # since 0006: a generic exam part or keuzedeel names its diploma and DUO's code for it
    diploma_result_id: Mapped[str | None] = fk("result.result_id", nullable=True)
    duo_code: Mapped[str | None] = mapped_column(String(5))
    __table_args__ = (CheckConstraint(_in("kind", RESULT_KINDS), name="kind"),)


# --- absence ------------------------------------------------------------------------------


class Absence(Stamped, Base):
    """Hours absent on one day; ``authorised`` = geoorloofd."""

    __tablename__ = "absence"
    absence_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    student_number: Mapped[str] = fk("student.student_number")
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    hours: Mapped[float] = mapped_column(Float)
    authorised: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    reason: Mapped[str | None] = mapped_column(String(100))
    __table_args__ = (CheckConstraint("hours > 0 AND hours <= 24", name="hours"),)


class AbsenceReport(Stamped, Base):
    """A verzuimmelding to DUO, e.g. the 16-hours-in-4-weeks rule for minors."""

    __tablename__ = "absence_report"
    report_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    student_number: Mapped[str] = fk("student.student_number")
    kind: Mapped[str] = mapped_column(String(30))  # verzuimsoort
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    hours: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), default="te_melden", server_default="te_melden")
    reported_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    duo_reference: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        CheckConstraint(_in("kind", ABSENCE_REPORT_KINDS), name="kind"),
        CheckConstraint(_in("status", ("te_melden", "gemeld", "afgewezen", "ingetrokken")), name="status"),
    )


class SchoolHoliday(Base):
    """A holiday of the college's school calendar (not an object: no outbox, not replicated).
    The verzuim rule leaves its days out (``runtime.sis.schoolcalendar``)."""

    __tablename__ = "school_holiday"
    school_year: Mapped[str] = mapped_column(String(9), primary_key=True)  # 2026-2027
    name: Mapped[str] = mapped_column(String(60), primary_key=True)  # herfstvakantie
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    region: Mapped[str | None] = mapped_column(String(10))  # noord, midden, zuid; or the college's own
    source: Mapped[str | None] = mapped_column(String(300))  # where the dates come from
    __table_args__ = (CheckConstraint("end_date >= start_date", name="dates"),)


#: what a withdrawal from DUO's ROD takes back: an enrollment (ISG with its ISP), a BPV, a diploma
WITHDRAWAL_KINDS = ("inschrijving", "bpv", "diploma")
WITHDRAWAL_REASONS = ("verwijderd", "ten_onrechte")


class DuoWithdrawal(Stamped, Base):
    """A message to DUO's ROD to be taken back (since 0009): written by the store's triggers when
    an enrollment, a signed BPV or a diploma is deleted (``verwijderd``), so that what identifies
    the earlier message outlives the row; or entered by the administration for one registered
    in error that stays in the SIS (``ten_onrechte``). Interface 15 sends it as DUO's
    verwijder-message. Plain columns, no references: the withdrawal must survive its row."""

    __tablename__ = "duo_withdrawal"
    withdrawal_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    object_key: Mapped[str] = mapped_column(String(64))  # the deleted row's key (enrollment_id, ...)
    student_number: Mapped[str] = mapped_column(String(32), index=True)
    brin: Mapped[str] = mapped_column(String(4))
    enrollment_volgnummer: Mapped[int] = mapped_column(Integer)  # inschrijvingvolgnummer
    volgnummer: Mapped[str | None] = mapped_column(String(64))  # bpvVolgnummer or resultaatvolgnummer
    reason: Mapped[str] = mapped_column(String(20), default="verwijderd", server_default="verwijderd")
    __table_args__ = (
        CheckConstraint(_in("kind", WITHDRAWAL_KINDS), name="kind"),
        CheckConstraint(_in("reason", WITHDRAWAL_REASONS), name="reason"),
        CheckConstraint("kind = 'inschrijving' OR volgnummer IS NOT NULL", name="volgnummer"),
    )


# --- documents, finance, timetable --------------------------------------------------------


class Document(Stamped, Base):
    __tablename__ = "document"
    document_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    student_number: Mapped[str | None] = fk("student.student_number", nullable=True)
    enrollment_id: Mapped[str | None] = fk("enrollment.enrollment_id", nullable=True)
    aanmeld_id: Mapped[str | None] = fk("application.aanmeld_id", nullable=True)
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="concept", server_default="concept")
    signing_status: Mapped[str] = mapped_column(String(20), default="niet_nodig", server_default="niet_nodig")
    file_name: Mapped[str | None] = mapped_column(String(200))
    mime_type: Mapped[str | None] = mapped_column(String(100))
    sha256: Mapped[str | None] = mapped_column(String(64))
    sign_transaction_id: Mapped[str | None] = mapped_column(String(64))
    signed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    dms_reference: Mapped[str | None] = mapped_column(String(64))
    person_number: Mapped[str | None] = fk("person.person_number", nullable=True)  # since 0002
    __table_args__ = (
        CheckConstraint(
            _in("kind", ("onderwijsovereenkomst", "bpvo", "verblijfsdocument", "opleidingsblad",
                         "doorstroomdossier", "lob", "overig")),
            name="kind",
        ),
        CheckConstraint(_in("status", ("concept", "definitief", "gearchiveerd")), name="status"),
        CheckConstraint(
            _in("signing_status", ("niet_nodig", "te_ondertekenen", "verstuurd", "ondertekend",
                                   "geweigerd", "verlopen", "geannuleerd")),
            name="signing_status",
        ),
    )


class InvoiceLine(Stamped, Base):
    """A sales invoice line from the financial system (Exact), e.g. lesgeld or lesmateriaal."""

    __tablename__ = "invoice_line"
    invoice_line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    invoice_number: Mapped[str | None] = mapped_column(String(32), index=True)
    student_number: Mapped[str | None] = fk("student.student_number", nullable=True)
    item_code: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(200))
    quantity: Mapped[float] = mapped_column(Float, default=1, server_default="1")
    amount: Mapped[float] = mapped_column(Float)  # excluding VAT, in euros
    vat_amount: Mapped[float] = mapped_column(Float, default=0, server_default="0")
    invoice_date: Mapped[dt.date | None] = mapped_column(Date)
    modified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # Exact's Modified


class TimetableActivity(Stamped, Base):
    """An onderwijsactiviteit of the dagrooster (Xedule), replaced per day."""

    __tablename__ = "timetable_activity"
    activity_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    course_code: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(30))  # les, toets, bpv-terugkomdag
    group_code: Mapped[str | None] = fk("group.group_code", nullable=True)
    staff_number: Mapped[str | None] = fk("staff.staff_number", nullable=True)
    room: Mapped[str | None] = mapped_column(String(30))
    location_code: Mapped[str | None] = mapped_column(String(20))


# --- the change outbox (not an object) ----------------------------------------------------


class Outbox(Base):
    """One row per change of an object row, written by database triggers (see ``triggers``)."""

    __tablename__ = "outbox"
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    object: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(Text)
    op: Mapped[str] = mapped_column(String(6))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=utcnow())
    __table_args__ = (
        CheckConstraint(_in("op", ("insert", "update", "delete")), name="op"),
        # AUTOINCREMENT: SQLite never reuses a sequence number, even after the outbox is pruned
        {"sqlite_autoincrement": True},
    )


#: object type → its model, in dependency order (referenced tables first)
OBJECTS: dict[str, type[Base]] = {
    m.__tablename__: m
    for m in (
        Person, Guardian, Staff, Student, Qualification, Program, Offering, Cohort, Enrollment, EnrollmentPeriod,
        Application, Group, Membership, RoleAssignment, Company, Recognition, Internship,
        ExamCandidate, ExamAid, Result, Absence, AbsenceReport, DuoWithdrawal, Document, InvoiceLine, TimetableActivity,
    )
}


for _model in OBJECTS.values():
    # (updated_at, natural key): a watermark read pages through a table of any size by index
    _table = cast(Table, _model.__table__)
    Index(f"ix_{_table.name}_watermark", _table.c.updated_at, *_table.primary_key.columns)


def natural_key(object_type: str) -> tuple[str, ...]:
    """The natural key columns of an object, in the order used for the outbox ``key``."""
    return tuple(c.name for c in cast(Table, OBJECTS[object_type].__table__).primary_key.columns)


def model(object_type: str) -> type[Base]:
    try:
        return OBJECTS[object_type]
    except KeyError:
        known = ", ".join(sorted(OBJECTS))
        raise KeyError(f"unknown SIS object '{object_type}'; known: {known}") from None
