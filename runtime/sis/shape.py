"""The columns of the SIS objects, without building the ORM (``runtime/sis/models.py``).

``koppel validate`` and ``koppel run`` check that a ``sis`` spec names real objects and fields
and which columns a replicated table carries. Importing the models for that costs ~0.5 s of
SQLAlchemy declarative mapping per command; this module is the same knowledge as plain data.
``tests/foundation/test_sis_shape.py`` keeps it equal to the models; after changing a model run
``.venv/bin/python -m runtime.sis.shape`` to rewrite ``BUILTIN`` below.

A project that declares objects of its own (``objects/*.yaml``) gets them from the models, with
the declarations registered: only such a project pays for the ORM.
"""

from __future__ import annotations

from pathlib import Path

#: object type → its columns in table order (generated; do not edit by hand)
BUILTIN: dict[str, tuple[str, ...]] = {
    'person': ('person_number', 'bsn', 'onderwijsnummer', 'first_names', 'given_name', 'initials', 'tussenvoegsel', 'last_name', 'birth_date', 'gender', 'street', 'house_number', 'house_number_suffix', 'postal_code', 'city', 'municipality_code', 'country_code', 'phone', 'email_private', 'email_school', 'account_name', 'eck_id', 'eck_id_pgn', 'created_at', 'updated_at'),
    'guardian': ('guardian_id', 'person_number', 'relation', 'legal_representative', 'first_names', 'initials', 'tussenvoegsel', 'last_name', 'email', 'phone', 'created_at', 'updated_at'),
    'staff': ('staff_number', 'person_number', 'function', 'department', 'start_date', 'end_date', 'created_at', 'updated_at'),
    'student': ('student_number', 'person_number', 'status', 'has_startkwalificatie', 'mentor_staff_number', 'created_at', 'updated_at'),
    'qualification': ('crebo', 'name', 'level', 'dossier_crebo', 'dossier_name', 'sector', 'price_factor', 'valid_from', 'valid_until', 'kind', 'created_at', 'updated_at'),
    'program': ('program_code', 'crebo', 'name', 'level', 'leerweg', 'duration_months', 'department', 'created_at', 'updated_at'),
    'offering': ('offering_code', 'program_code', 'rio_code', 'opleidingseenheid_code', 'onderwijsaanbieder_code', 'location_code', 'brin', 'name', 'description', 'start_date', 'end_date', 'published', 'created_at', 'updated_at'),
    'cohort': ('cohort_code', 'offering_code', 'start_date', 'aanmeld_start', 'aanmeld_end', 'status', 'capacity', 'created_at', 'updated_at'),
    'enrollment': ('enrollment_id', 'student_number', 'program_code', 'cohort_code', 'volgnummer', 'brin', 'start_date', 'planned_end_date', 'end_date', 'leertraject', 'bekostigbaar', 'location_code', 'status', 'exit_reason', 'vsv_location_code', 'created_at', 'updated_at'),
    'enrollment_period': ('enrollment_id', 'period_number', 'start_date', 'end_date', 'crebo', 'level', 'leertraject', 'bekostigbaar', 'location_code', 'created_at', 'updated_at'),
    'application': ('aanmeld_id', 'person_number', 'cohort_code', 'channel', 'status', 'status_date', 'submitted_at', 'previous_school_brin', 'previous_education', 'enrollment_id', 'program_code', 'created_at', 'updated_at'),
    'group': ('group_code', 'name', 'kind', 'program_code', 'cohort_code', 'school_year', 'start_date', 'end_date', 'created_at', 'updated_at'),
    'membership': ('group_code', 'person_number', 'role', 'start_date', 'end_date', 'created_at', 'updated_at'),
    'role_assignment': ('person_number', 'role', 'scope', 'source', 'start_date', 'end_date', 'granted_by', 'created_at', 'updated_at'),
    'company': ('sbb_code', 'name', 'kvk_number', 'street', 'house_number', 'postal_code', 'city', 'phone', 'email', 'website', 'branche', 'created_at', 'updated_at'),
    'recognition': ('sbb_code', 'crebo', 'leerweg', 'start_date', 'end_date', 'status', 'created_at', 'updated_at'),
    'internship': ('internship_id', 'enrollment_id', 'sbb_code', 'volgnummer', 'crebo', 'start_date', 'planned_end_date', 'actual_end_date', 'agreement_date', 'hours', 'status', 'supervisor_name', 'supervisor_email', 'recognition_status', 'recognition_checked_on', 'created_at', 'updated_at'),
    'exam_candidate': ('candidate_id', 'student_number', 'enrollment_id', 'exam_code', 'exam_name', 'exam_date', 'test_system', 'status', 'created_at', 'updated_at'),
    'exam_aid': ('candidate_id', 'aid', 'description', 'extra_minutes', 'created_at', 'updated_at'),
    'result': ('result_id', 'student_number', 'enrollment_id', 'kind', 'course_code', 'description', 'grade', 'score', 'passed', 'assessed_on', 'crebo', 'source_system', 'diploma_result_id', 'duo_code', 'created_at', 'updated_at'),
    'absence': ('absence_id', 'student_number', 'date', 'hours', 'authorised', 'reason', 'created_at', 'updated_at'),
    'absence_report': ('report_id', 'student_number', 'kind', 'start_date', 'end_date', 'hours', 'status', 'reported_at', 'duo_reference', 'created_at', 'updated_at'),
    'duo_withdrawal': ('withdrawal_id', 'kind', 'object_key', 'student_number', 'brin', 'enrollment_volgnummer', 'volgnummer', 'reason', 'created_at', 'updated_at'),
    'document': ('document_id', 'student_number', 'enrollment_id', 'aanmeld_id', 'kind', 'title', 'status', 'signing_status', 'file_name', 'mime_type', 'sha256', 'sign_transaction_id', 'signed_at', 'dms_reference', 'person_number', 'created_at', 'updated_at'),
    'invoice_line': ('invoice_line_id', 'invoice_number', 'student_number', 'item_code', 'description', 'quantity', 'amount', 'vat_amount', 'invoice_date', 'modified_at', 'created_at', 'updated_at'),
    'timetable_activity': ('activity_id', 'date', 'starts_at', 'ends_at', 'course_code', 'description', 'kind', 'group_code', 'staff_number', 'room', 'location_code', 'created_at', 'updated_at'),
}


def columns(project_root: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Object type → column names, the project's declared objects and fields included."""
    if project_root is None or not (Path(project_root) / "objects").is_dir():
        return BUILTIN
    from runtime.errors import ConfigError
    from runtime.sis import declared

    try:
        declared.register(project_root)
    except ConfigError:
        pass  # the declaration's own problems are reported with their lines (runtime/objectcheck.py)
    return from_models()


def from_models() -> dict[str, tuple[str, ...]]:
    from runtime.sis.models import OBJECTS

    return {name: tuple(c.name for c in model.__table__.columns) for name, model in OBJECTS.items()}


def _rewrite() -> None:
    """Rewrite BUILTIN from the models (built-in objects only: no project is registered here)."""
    path = Path(__file__)
    text = path.read_text(encoding="utf-8")
    head, rest = text.split("BUILTIN: dict[str, tuple[str, ...]] = {\n", 1)
    tail = rest.split("}\n", 1)[1]
    body = "".join(f"    {name!r}: {cols!r},\n" for name, cols in from_models().items())
    path.write_text(f"{head}BUILTIN: dict[str, tuple[str, ...]] = {{\n{body}}}\n{tail}", encoding="utf-8")


if __name__ == "__main__":
    _rewrite()
