"""Where things are: the project, the public contracts (``${specs}``), the var/ folder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

SPECS_PLACEHOLDER = "${specs}"
#: the SIS's document folder (KOPPEL_DOCUMENTS_DIR), for the files a mapping names to upload
DOCUMENTS_PLACEHOLDER = "${documents}"


def specs_dir(project_root: Path) -> Path:
    """The public contracts: ``KOPPEL_SPECS_DIR``, else ``../shared/specs`` beside the project."""
    env = os.environ.get("KOPPEL_SPECS_DIR")
    return Path(env) if env else (project_root.parent / "shared" / "specs")


#: called with every path expand() gives out: the validation cache (runtime/cli/validate_cache.py)
#: learns which files validation looked for, including the ones it did not find
watchers: list[Callable[[Path], None]] = []


def expand(path: str, project_root: Path) -> Path:
    """A path from YAML or a mapping: ``${specs}/x`` → the specs folder, ``${documents}/x`` → the
    SIS's document folder; relative → from the project root."""
    if path.startswith(SPECS_PLACEHOLDER):
        out = specs_dir(project_root) / path[len(SPECS_PLACEHOLDER) :].lstrip("/")
    elif path.startswith(DOCUMENTS_PLACEHOLDER):
        out = documents_dir(project_root) / path[len(DOCUMENTS_PLACEHOLDER) :].lstrip("/")
    else:
        p = Path(path)
        out = p if p.is_absolute() else project_root / p
    for watch in watchers:
        watch(out)
    return out


def var_dir(project_root: Path) -> Path:
    """Runtime files (the embedded SQLite databases, sandbox data); created on first use."""
    d = Path(os.environ.get("KOPPEL_VAR_DIR", project_root / "var"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def documents_dir(project_root: Path) -> Path:
    """The SIS's document files: ``KOPPEL_DOCUMENTS_DIR``, else ``<project>/var/documents``.
    Mappings name a file in it as ``${documents}/<file_name>``."""
    env = os.environ.get("KOPPEL_DOCUMENTS_DIR")
    return Path(env) if env else Path(project_root) / "var" / "documents"
