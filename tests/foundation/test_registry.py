"""Plugins come from the entry-point group koppel.plugins; unknown types name the known ones."""

from __future__ import annotations

import pytest

from runtime.errors import ConfigError
from runtime.registry import load_registry


def test_builtin_plugins_are_registered_through_entry_points() -> None:
    registry = load_registry()
    assert set(registry.names()) >= {"sis", "rest", "soap", "sftp", "db", "file", "webhook"}
    assert "webhook" in registry.names("source") and "webhook" not in registry.names("target")


def test_unknown_type_names_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        load_registry().get("ftp", role="target")
    assert "unknown target plugin type 'ftp'" in str(info.value)
    assert "rest" in str(info.value) and "sftp" in str(info.value)
