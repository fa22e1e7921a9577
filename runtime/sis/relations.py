"""How SIS objects refer to each other: the names a sis source's ``include`` accepts.

``RELATIONS[object][name] = Relation(target, local, remote, many)`` joins the rows of ``target``
whose ``remote`` columns equal this row's ``local`` columns. ``many`` relations become lists,
the others a single dict (or null). Includes nest with dots: ``enrollments.program``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Relation:
    target: str
    local: tuple[str, ...]
    remote: tuple[str, ...]
    many: bool = False


def _one(target: str, local: str, remote: str | None = None) -> Relation:
    return Relation(target, (local,), (remote or local,), False)


def _many(target: str, local: str, remote: str | None = None) -> Relation:
    return Relation(target, (local,), (remote or local,), True)


RELATIONS: dict[str, dict[str, Relation]] = {
    "person": {
        "student": _one("student", "person_number"),
        "staff": _one("staff", "person_number"),
        "applications": _many("application", "person_number"),
        "memberships": _many("membership", "person_number"),
        "role_assignments": _many("role_assignment", "person_number"),
        "documents": _many("document", "person_number"),
        "guardians": _many("guardian", "person_number"),
    },
    "guardian": {"person": _one("person", "person_number")},
    "student": {
        "person": _one("person", "person_number"),
        "mentor": _one("staff", "mentor_staff_number", "staff_number"),
        "enrollments": _many("enrollment", "student_number"),
        "applications": _many("application", "person_number"),
        "memberships": _many("membership", "person_number"),
        "results": _many("result", "student_number"),
        "absences": _many("absence", "student_number"),
        "absence_reports": _many("absence_report", "student_number"),
        "documents": _many("document", "student_number"),
        "exam_candidates": _many("exam_candidate", "student_number"),
        "invoice_lines": _many("invoice_line", "student_number"),
    },
    "staff": {
        "person": _one("person", "person_number"),
        "memberships": _many("membership", "person_number"),
        "role_assignments": _many("role_assignment", "person_number"),
    },
    "qualification": {"programs": _many("program", "crebo")},
    "program": {
        "qualification": _one("qualification", "crebo"),
        "offerings": _many("offering", "program_code"),
        "applications": _many("application", "program_code"),
    },
    "offering": {"program": _one("program", "program_code"), "cohorts": _many("cohort", "offering_code")},
    "cohort": {"offering": _one("offering", "offering_code"), "applications": _many("application", "cohort_code")},
    "enrollment": {
        "student": _one("student", "student_number"),
        "program": _one("program", "program_code"),
        "cohort": _one("cohort", "cohort_code"),
        "periods": _many("enrollment_period", "enrollment_id"),
        "internships": _many("internship", "enrollment_id"),
        "results": _many("result", "enrollment_id"),
        "exam_candidates": _many("exam_candidate", "enrollment_id"),
        "documents": _many("document", "enrollment_id"),
    },
    "enrollment_period": {
        "enrollment": _one("enrollment", "enrollment_id"),
        "qualification": _one("qualification", "crebo"),
    },
    "application": {
        "person": _one("person", "person_number"),
        "student": _one("student", "person_number"),
        "program": _one("program", "program_code"),
        "cohort": _one("cohort", "cohort_code"),
        "enrollment": _one("enrollment", "enrollment_id"),
        "documents": _many("document", "aanmeld_id"),
    },
    "group": {
        "program": _one("program", "program_code"),
        "cohort": _one("cohort", "cohort_code"),
        "memberships": _many("membership", "group_code"),
    },
    "membership": {"group": _one("group", "group_code"), "person": _one("person", "person_number")},
    "role_assignment": {"person": _one("person", "person_number")},
    "company": {
        "recognitions": _many("recognition", "sbb_code"),
        "internships": _many("internship", "sbb_code"),
    },
    "recognition": {"company": _one("company", "sbb_code"), "qualification": _one("qualification", "crebo")},
    "internship": {"enrollment": _one("enrollment", "enrollment_id"), "company": _one("company", "sbb_code")},
    "exam_candidate": {
        "student": _one("student", "student_number"),
        "enrollment": _one("enrollment", "enrollment_id"),
        "aids": _many("exam_aid", "candidate_id"),
    },
    "exam_aid": {"candidate": _one("exam_candidate", "candidate_id")},
    "result": {
        "student": _one("student", "student_number"),
        "enrollment": _one("enrollment", "enrollment_id"),
        # a diploma's generic exam parts and keuzedelen (ROD GEO and KZD), and back
        "diploma": _one("result", "diploma_result_id", "result_id"),
        "parts": _many("result", "result_id", "diploma_result_id"),
    },
    "absence": {"student": _one("student", "student_number")},
    "absence_report": {"student": _one("student", "student_number")},
    "duo_withdrawal": {"student": _one("student", "student_number")},
    "document": {
        "person": _one("person", "person_number"),
        "student": _one("student", "student_number"),
        "enrollment": _one("enrollment", "enrollment_id"),
        "application": _one("application", "aanmeld_id"),
    },
    "invoice_line": {"student": _one("student", "student_number")},
    "timetable_activity": {"group": _one("group", "group_code"), "staff": _one("staff", "staff_number")},
}


def resolve(object_type: str, include: str) -> list[tuple[str, Relation]]:
    """``("student", "enrollments.program")`` → the chain of relations; KeyError names the choices."""
    chain: list[tuple[str, Relation]] = []
    current = object_type
    for name in include.split("."):
        relations = RELATIONS.get(current, {})
        if name not in relations:
            known = ", ".join(sorted(relations)) or "none"
            raise KeyError(f"'{current}' has no related object '{name}'; known: {known}")
        relation = relations[name]
        chain.append((name, relation))
        current = relation.target
    return chain
