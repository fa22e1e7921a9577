"""Process settings from the environment, with the embedded defaults a newcomer gets.

    KOPPEL_SIS_URL     the central SIS store      default: sqlite:///<project>/var/koppel.db
    KOPPEL_STATE_URL   Koppel's own state          default: the same database as the SIS store
    KOPPEL_ENV         sandbox | acceptatie | productie   (default sandbox)
    KOPPEL_SPECS_DIR   the public contracts        default: ../shared/specs beside the project
    KOPPEL_VAR_DIR     runtime files               default: <project>/var
"""

from __future__ import annotations

import os
from pathlib import Path

from runtime.paths import var_dir


def default_sqlite_url(project_root: Path) -> str:
    return f"sqlite:///{var_dir(project_root) / 'koppel.db'}"


def sis_url(project_root: Path) -> str:
    return os.environ.get("KOPPEL_SIS_URL") or default_sqlite_url(project_root)


def state_url(project_root: Path) -> str:
    return os.environ.get("KOPPEL_STATE_URL") or sis_url(project_root)


def environment() -> str:
    return os.environ.get("KOPPEL_ENV", "sandbox")
