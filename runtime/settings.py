"""Process settings from the environment, with the embedded defaults a newcomer gets.

    KOPPEL_SIS_URL     the central SIS store      default: sqlite:///<project>/var/koppel.db
    KOPPEL_STATE_URL   Koppel's own state          default: the same database as the SIS store
    KOPPEL_ENV         sandbox | acceptatie | productie   (default sandbox)
    KOPPEL_SPECS_DIR   the public contracts        default: ../shared/specs beside the project
    KOPPEL_VAR_DIR     runtime files               default: <project>/var
    KOPPEL_DOCUMENTS_DIR  the SIS's document files (PDFs)   default: <project>/var/documents
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


def documents_dir(project_root: Path) -> Path:
    """Where the SIS keeps its document files (``document.file_name``): the PDFs that interface 14
    sends for signing. Not under KOPPEL_VAR_DIR, a folder of its own; mappings name a file in it
    ``${documents}/<file_name>`` (runtime.paths.expand)."""
    from runtime.paths import documents_dir as folder

    return folder(project_root)
