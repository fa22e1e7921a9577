"""`koppel validate` warns where a BSN would go without a legal basis (art. 46 UAVG), and where a
productie URL is a placeholder; warnings are shown but do not fail the validation."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from runtime.cli import main


def validate(root: Path) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["--project", str(root), "validate", "--format", "json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.output)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def bsn_warnings(report: dict) -> list[dict]:
    return [w for w in report["warnings"] if "BSN" in w["message"]]


def test_the_project_sends_the_bsn_only_where_a_law_allows_it(project_copy: Path) -> None:
    _code, report = validate(project_copy)
    assert bsn_warnings(report) == []
    placeholders = sorted(w["path"] for w in report["warnings"] if "placeholder" in w["message"])
    assert placeholders == [
        "systems.duo-rod.environments.productie.url",
        "systems.duo-verzuim.environments.productie.url",
    ]


def test_replicating_the_whole_person_table_to_the_iam_is_a_warning_with_file_and_line(project_copy: Path) -> None:
    interface = project_copy / "interfaces/02-sis-iam-datalaag.yaml"
    edit(interface, "      columns: [person_number, first_names,", "      kolommen_weg: [person_number, first_names,")
    edit(interface, "kolommen_weg: ", "# ")  # no column list: every column of person
    _code, report = validate(project_copy)
    assert not [p for p in report["problems"] if "BSN" in p["message"] or "bsn" in p["message"]]  # a warning only
    (warning,) = bsn_warnings(report)
    assert warning["file"] == "interfaces/02-sis-iam-datalaag.yaml" and warning["path"] == "targets[0].system"
    assert warning["line"] == next(i for i, line in enumerate(interface.read_text().splitlines(), 1) if "system: datalaag" in line)
    assert warning["message"] == (
        "system 'datalaag' has no legal basis for the BSN (bsn_legal_basis in catalog.yaml), yet this "
        "interface carries person.bsn, person.onderwijsnummer"
    )


def test_a_pseudonymised_bsn_is_no_warning_but_the_bare_column_is(project_copy: Path) -> None:
    interface = project_copy / "interfaces/18-sis-mip.yaml"
    edit(interface, "      pseudonymise: {bsn: pseudonym}\n", "")
    (warning,) = bsn_warnings(validate(project_copy)[1])
    assert warning["file"] == "interfaces/18-sis-mip.yaml"
    assert warning["message"].endswith("yet this interface carries person.bsn")


def test_a_mapping_field_named_like_a_bsn_to_a_system_that_may_only_have_the_hash(project_copy: Path) -> None:
    edit(project_copy / "mappings/eckid-aanvraag.yaml", "output:\n", "output:\n  burgerservicenummer: \"person.bsn\"\n")
    warnings = bsn_warnings(validate(project_copy)[1])
    expected = (
        "system 'kennisnet' may receive the BSN only as a hash (hPGN), yet this interface carries "
        "eckid-aanvraag: burgerservicenummer"
    )
    assert [(w["file"], w["message"]) for w in warnings] == [("interfaces/13-eckid.yaml", expected)]


def test_without_its_legal_basis_duo_verzuim_gets_a_warning(project_copy: Path) -> None:
    edit(project_copy / "catalog.yaml", "    bsn_legal_basis:\n      law: Leerplichtwet 1969, art. 21a (verzuimmelding)\n", "")
    warnings = bsn_warnings(validate(project_copy)[1])
    assert [(w["file"], w["path"]) for w in warnings] == [("interfaces/16-duo-verzuim.yaml", "targets[0].system")]
    assert "onderwijsontvanger.burgerservicenummer" in warnings[0]["message"]
