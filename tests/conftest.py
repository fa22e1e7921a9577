"""Shared fixtures: the project root, and a scratch copy of the project to break on purpose."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture()
def project_copy(tmp_path: Path) -> Path:
    """A copy of the definitions (catalog, interfaces, mappings, contracts) to edit in a test."""
    for name in ("catalog.yaml", "interfaces", "mappings", "contracts", "sandbox/secrets"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name)
        elif src.exists():
            shutil.copy(src, tmp_path / name)
    return tmp_path
