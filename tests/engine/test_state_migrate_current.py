"""A state database already at the newest schema is recognised without Alembic (whose import
costs about a second of every ``koppel`` command), and one that is not is still migrated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from runtime.engine.state import migrate

ROOT = Path(__file__).resolve().parents[2]


def test_heads_read_from_the_scripts_are_alembics():
    from alembic.script import ScriptDirectory

    assert migrate.script_heads() == set(ScriptDirectory.from_config(migrate.alembic_config()).get_heads())


def test_a_current_database_is_opened_without_importing_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate.migrate(create_engine(url))  # first use: migrated by Alembic
    code = ("import sys; from runtime.engine.state.store import StateStore; "
            f"s = StateStore({url!r}); s.list_runs(limit=1); print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == "False", out.stderr[-2000:]


def test_a_database_behind_the_scripts_is_migrated(tmp_path):
    from alembic import command

    engine = create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    cfg = migrate.alembic_config()
    with engine.begin() as c:  # an older Koppel's database: one revision behind
        cfg.attributes["connection"] = c
        command.upgrade(cfg, "0004")
    assert not migrate.is_current(engine)
    migrate.migrate(engine)
    assert migrate.is_current(engine)
    with engine.connect() as c:
        assert c.execute(text("SELECT version_num FROM koppel_state_alembic_version")).scalar() == max(migrate.script_heads())


def test_an_empty_database_is_not_current(tmp_path):
    assert not migrate.is_current(create_engine(f"sqlite:///{tmp_path / 'state.db'}"))
