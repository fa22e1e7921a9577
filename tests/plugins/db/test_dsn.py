"""Which database the db plugin connects to, and how secrets in a DSN are handled."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.db.dsn import resolve_dsn, schema_file
from runtime import redact
from runtime.errors import ConfigError

from .conftest import context


def test_password_reference_is_resolved_quoted_and_masked(monkeypatch, tmp_path):
    monkeypatch.setenv("KOPPEL_TEST_DL_PASSWORD", "p@ss/w:rd")
    ctx = context(tmp_path, "postgresql+psycopg://koppel:${env:KOPPEL_TEST_DL_PASSWORD}@db.local/datalaag")
    assert resolve_dsn(ctx) == "postgresql+psycopg://koppel:p%40ss%2Fw%3Ard@db.local/datalaag"
    assert "p@ss/w:rd" not in redact.text("connecting with p@ss/w:rd")


def test_relative_sqlite_paths_are_from_the_project_root(tmp_path):
    assert resolve_dsn(context(tmp_path, "sqlite:///var/datalaag.db")) == f"sqlite:///{tmp_path}/var/datalaag.db"
    assert resolve_dsn(context(tmp_path, "sqlite:////abs/x.db")) == "sqlite:////abs/x.db"
    assert schema_file(f"sqlite:///{tmp_path}/var/datalaag.db", "mip") == tmp_path / "var/datalaag.mip.db"


def test_the_sis_system_falls_back_to_the_sis_store(monkeypatch, tmp_path):
    monkeypatch.setenv("KOPPEL_SIS_URL", "sqlite:////tmp/sis-test.db")
    assert resolve_dsn(context(tmp_path, None, name="sis")) == "sqlite:////tmp/sis-test.db"
    with pytest.raises(ConfigError, match="no dsn"):
        resolve_dsn(context(tmp_path, None, name="datalaag"))


def test_missing_secret_is_a_config_error_without_value(tmp_path):
    with pytest.raises(ConfigError, match="KOPPEL_TEST_NOT_SET"):
        resolve_dsn(context(Path(tmp_path), "postgresql://u:${env:KOPPEL_TEST_NOT_SET}@h/d"))
