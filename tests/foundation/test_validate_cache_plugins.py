"""A verdict is kept only when every plugin and plugin command is Koppel's own (a third-party
plugin's checks may read what no fingerprint covers)."""

from __future__ import annotations

import importlib.metadata

import pytest

from runtime.cli import validate_cache

GROUPS = ("koppel.plugins", "koppel.commands")


def _installed() -> list:
    every = importlib.metadata.entry_points()
    return [ep for group in GROUPS for ep in every.select(group=group)]


def test_koppels_own_plugins_are_recognised():
    assert validate_cache._plugins_are_koppels()


@pytest.mark.parametrize("group, value, distribution", [
    ("koppel.plugins", "plugins.db:plugin", "someone-elses"),    # Koppel's module, another distribution
    ("koppel.commands", "elsewhere.cli:command", "koppel"),       # another package's module
])
def test_a_plugin_of_someone_else_is_not(monkeypatch, group, value, distribution):
    own = _installed()
    koppel = own[0].dist

    class Named(type(koppel)):  # the same files under another name
        @property
        def name(self) -> str:
            return distribution

    added = importlib.metadata.EntryPoint(name="x", value=value, group=group)._for(Named(koppel._path))
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda **kw: importlib.metadata.EntryPoints([*own, added]).select(**kw))
    assert not validate_cache._plugins_are_koppels()
