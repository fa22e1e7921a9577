"""The light description of the SIS objects (runtime/sis/shape.py) is the models' own columns,
and validating a project does not build the ORM for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from runtime.sis import shape

ROOT = Path(__file__).resolve().parents[2]


def test_the_description_equals_the_models():
    builtin = {name: cols for name, cols in shape.from_models().items() if name in shape.BUILTIN}
    assert builtin == shape.BUILTIN, "a model changed: run .venv/bin/python -m runtime.sis.shape"
    from runtime.sis.models import OBJECTS

    declared = {name for name, model in OBJECTS.items() if getattr(model, "declared", False)}
    assert set(shape.BUILTIN) == set(OBJECTS) - declared


def test_validate_of_the_project_builds_no_orm_and_imports_no_database_or_http_stack():
    # what `koppel validate` does, in a fresh process: which heavy modules did it import?
    code = ("import sys; from runtime.cli import main\n"
            f"try:\n    main(['--project', {str(ROOT)!r}, 'validate', '-q'], standalone_mode=False)\n"
            "except SystemExit:\n    pass\n"
            "print(*[m in sys.modules for m in ('runtime.sis.models', 'sqlalchemy', 'alembic', 'httpx')])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split()[-4:] == ["False"] * 4, out.stdout[-2000:] + out.stderr[-2000:]


def test_a_project_declaring_objects_gets_their_columns(tmp_path):
    (tmp_path / "objects").mkdir()
    (tmp_path / "objects" / "locker.yaml").write_text(
        "name: locker\nkey: [locker_number]\nfields:\n  locker_number: {type: string, length: 10}\n"
        "  student_number: {type: string, length: 20}\n", encoding="utf-8")
    # in a process of its own: declared objects extend the process's models (runtime/sis/declared.py),
    # and this test process goes on to check the built-in schema against them
    code = ("from pathlib import Path; from runtime.sis import shape\n"
            f"columns = shape.columns(Path({str(tmp_path)!r}))\n"
            "assert columns['locker'][:2] == ('locker_number', 'student_number'), columns['locker']\n"
            "assert columns['person'] == shape.BUILTIN['person']\n"
            f"assert shape.columns(Path({str(ROOT)!r})) is shape.BUILTIN  # no objects/ folder: no ORM\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stdout + out.stderr
