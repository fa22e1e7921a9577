"""A SIS object and a field declared in YAML alone (issue 14): created by `koppel sis init` on both
engines with outbox triggers, fed by a file source from a partner's semicolon/cp1252 CSV, its
changes in the outbox; removing a declared field is refused unless a migration is asked for.

Everything runs through the CLI in subprocesses: declarations extend the process's models, and
one process serves one project, as `koppel serve` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.sis.conftest import ENGINES

ROOT = Path(__file__).resolve().parents[2]

HOURS = """# yaml-language-server: $schema=../schemas/object.schema.json
name: internship_hours
description: Realised BPV hours per week, as the partner reports them.
key: [internship_id, week]
fields:
  internship_id: {references: internship.internship_id, nullable: false}
  week: {type: date, nullable: false}
  hours: {type: number}
  remark: {type: text}
"""

EXTRA = """# yaml-language-server: $schema=../schemas/object.schema.json
extends: internship
fields:
  realised_hours: {type: number, description: The sum of the reported weeks.}
"""

ROW = """  - id: 30
    from: "BPV-partner"
    to: "SIS"
    objects: ["Gerealiseerde BPV-uren"]
    type: "Batch"
    source_systems: [bpv-partner]
    target_systems: [sis]
    file: interfaces/30-bpv-uren.yaml
"""

SYSTEM = """  bpv-partner:
    name: BPV-partner
    description: A partner that drops weekly CSV files of realised internship hours.
    vendor: Partner
    protocol: file
    environments:
      sandbox: {options: {}}
      acceptatie: {options: {}}
      productie: {options: {}}
"""

INTERFACE = """# yaml-language-server: $schema=../schemas/interface.schema.json
id: 30
name: Gerealiseerde BPV-uren van de partner
type: batch
objects: [bpv-uren]
trigger: {type: manual}
source: {type: file, system: bpv-partner, directory: %s, pattern: "*.csv", key: "join('|', [stage, week])",
         format: {type: csv, delimiter: ";", encoding: cp1252}}
mapping: bpv-uren
targets:
  - {type: sis, object: internship_hours}
"""

MAPPING = """name: bpv-uren
output:
  internship_id: {expr: "stage", required: true}
  week: {expr: "to_date(week)", required: true}
  hours: "to_number(uren)"
  remark: "opmerking"
"""


def _project(project: Path, drop: Path) -> None:
    (project / "objects").mkdir()
    (project / "objects/internship_hours.yaml").write_text(HOURS, encoding="utf-8")
    (project / "objects/internship.yaml").write_text(EXTRA, encoding="utf-8")
    catalog = project / "catalog.yaml"
    head, _, systems = catalog.read_text(encoding="utf-8").partition("\nsystems:\n")
    catalog.write_text(head.rstrip("\n") + "\n" + ROW + "\nsystems:\n" + SYSTEM + systems, encoding="utf-8")
    (project / "interfaces/30-bpv-uren.yaml").write_text(INTERFACE % drop, encoding="utf-8")
    (project / "mappings/bpv-uren.yaml").write_text(MAPPING, encoding="utf-8")


def _koppel(project: Path, url: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KOPPEL_SIS_URL": url, "KOPPEL_STATE_URL": f"sqlite:///{tmp / 'state.db'}",
           "KOPPEL_VAR_DIR": str(tmp / "var")}
    return subprocess.run([sys.executable, "-m", "runtime.cli", "--project", str(project), *args], env=env,
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_declared_object_is_created_fed_from_a_cp1252_csv_and_in_the_outbox(seeded, project_copy: Path,
                                                                             tmp_path: Path) -> None:
    store = seeded
    drop = tmp_path / "drop"
    drop.mkdir()
    _project(project_copy, drop)
    validated = _koppel(project_copy, store.url, tmp_path, "validate")
    assert validated.returncode == 0, validated.stdout
    made = _koppel(project_copy, store.url, tmp_path, "sis", "init")
    assert made.returncode == 0, made.stderr
    assert "declared: create-table internship_hours" in made.stdout
    assert "declared: add-column internship.realised_hours" in made.stdout
    again = _koppel(project_copy, store.url, tmp_path, "sis", "init")
    assert "declared:" not in again.stdout  # nothing left to do

    engine = sa.create_engine(store.url)
    with engine.begin() as c:
        stage = c.execute(sa.text("SELECT min(internship_id) FROM internship")).scalar()
        before = c.execute(sa.text("SELECT max(seq) FROM outbox")).scalar() or 0
    (drop / "week48.csv").write_bytes(f"stage;week;uren;opmerking\r\n{stage};2026-11-23;16;Overwerk bij één collega\r\n"
                                      f"{stage};2026-11-30;12.5;\r\n".encode("cp1252"))
    ran = _koppel(project_copy, store.url, tmp_path, "run", "30")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "delivered 2" in ran.stdout
    with engine.begin() as c:
        rows = c.execute(sa.text("SELECT internship_id, week, hours, remark FROM internship_hours ORDER BY week"))
        got = [(r[0], str(r[1])[:10], float(r[2]), r[3]) for r in rows]
        outbox = c.execute(sa.text("SELECT object, key, op FROM outbox WHERE seq > :s ORDER BY seq"), {"s": before})
        changes = [tuple(r) for r in outbox]
        c.execute(sa.text("UPDATE internship SET realised_hours = 28.5 WHERE internship_id = :s"), {"s": stage})
        realised = c.execute(sa.text("SELECT object, op FROM outbox ORDER BY seq DESC LIMIT 1")).one()
    engine.dispose()
    assert got == [(stage, "2026-11-23", 16.0, "Overwerk bij één collega"), (stage, "2026-11-30", 12.5, None)]
    assert changes == [("internship_hours", f"{stage}|2026-11-23", "insert"),
                       ("internship_hours", f"{stage}|2026-11-30", "insert")]
    assert tuple(realised) == ("internship", "update")  # the declared field is under the outbox trigger too


@pytest.mark.parametrize("store", ENGINES[:1], indirect=True)
def test_removing_a_declared_field_is_refused_unless_a_migration_is_asked(store, project_copy: Path,
                                                                           tmp_path: Path) -> None:
    _project(project_copy, tmp_path)
    assert _koppel(project_copy, store.url, tmp_path, "sis", "init").returncode == 0
    (project_copy / "objects/internship.yaml").write_text(EXTRA.replace("realised_hours", "planned_hours"),
                                                          encoding="utf-8")
    refused = _koppel(project_copy, store.url, tmp_path, "sis", "init")
    assert refused.returncode == 1
    assert "refused: internship.realised_hours was removed from objects/" in refused.stderr
    assert "koppel sis init --migrate" in refused.stderr
    migrated = _koppel(project_copy, store.url, tmp_path, "sis", "init", "--migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "drop-column internship.realised_hours" in migrated.stdout
    assert "add-column internship.planned_hours" in migrated.stdout


def test_validate_names_a_bad_declaration_at_its_line(project_copy: Path, tmp_path: Path) -> None:
    (project_copy / "objects").mkdir()
    (project_copy / "objects/x.yaml").write_text("extends: internshp\nfields:\n  realised_hours: {type: number}\n",
                                                 encoding="utf-8")
    (project_copy / "objects/y.yaml").write_text(
        "name: uren\nkey: [id]\nfields:\n  id: {type: string}\n  stage: {references: internship.student_number}\n",
        encoding="utf-8")
    result = _koppel(project_copy, f"sqlite:///{tmp_path / 'x.db'}", tmp_path, "validate")
    assert result.returncode == 1
    assert "objects/x.yaml:1:1: extends: unknown SIS object 'internshp' (did you mean 'internship'?)" in result.stdout
    assert "objects/y.yaml:5:11: fields.stage.references: 'student_number' is not the key of internship" in result.stdout
