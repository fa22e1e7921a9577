"""The plugin registry, filled from the entry-point group ``koppel.plugins``.

Built-in plugins are declared in pyproject.toml exactly like third-party ones, so nothing here
knows any plugin by name and adding one never edits ``runtime/``.

A plugin is imported when it is first asked for, not when the registry is made: ``koppel run 0``
(a ``db`` interface) then imports the ``db`` plugin's spec module and not the SOAP, REST or SFTP
ones. Whatever needs every plugin (``koppel validate``, the JSON Schema, an unknown type's
"known: ..." list) iterates the registry, which loads them all.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

from runtime.errors import ConfigError
from runtime.plugin import Plugin

GROUP = "koppel.plugins"


class Registry:
    def __init__(self, plugins: dict[str, Plugin] | None = None, *,
                 entries: dict[str, EntryPoint] | None = None, whole: Registry | None = None) -> None:
        """``plugins`` loaded already (tests pass their own); ``entries`` loaded on first use.
        ``whole``: this is a ``subset`` of that registry."""
        self.whole = whole or self
        self.partial = whole is not None
        self._plugins = dict(plugins or {})
        self._entries = {name: ep for name, ep in (entries or {}).items() if name not in self._plugins}
        self._names = sorted({*self._plugins, *self._entries})
        self._lock = threading.RLock()  # the daemon's threads may ask for a plugin at once
        self._subsets: dict[frozenset[str], Registry] = {}

    def get(self, type_name: str, role: str | None = None) -> Plugin:
        plugin = self._load(type_name)
        if plugin is None or (role and role not in plugin.roles):
            known = ", ".join(self.names(role)) or "none"
            what = f"{role} plugin" if role else "plugin"
            raise ConfigError(f"unknown {what} type '{type_name}'; known: {known}")
        return plugin

    def names(self, role: str | None = None) -> list[str]:
        if role is None:
            return list(self._names)  # the entry points' names: nothing needs importing
        return [p.type for p in self if role in p.roles]

    def subset(self, types: Iterable[str]) -> Registry:
        """A registry of just these (registered) plugins, loaded; the same object for the same
        types, so a model built per registry (runtime/models/interface.py) is built once."""
        key = frozenset(types)
        with self._lock:
            found = self._subsets.get(key)
        if found is None:
            found = Registry({name: self.get(name) for name in key}, whole=self.whole)
            with self._lock:
                found = self._subsets.setdefault(key, found)
        return found

    def _load(self, type_name: str) -> Plugin | None:
        with self._lock:
            plugin = self._plugins.get(type_name)
            if plugin is not None or type_name not in self._entries:
                return plugin
            ep = self._entries[type_name]
            plugin = _load_entry_point(ep)
            self._plugins[type_name] = plugin
            del self._entries[type_name]
            return plugin

    def __iter__(self) -> Iterator[Plugin]:
        plugins = [self._load(name) for name in self._names]
        return iter([p for p in plugins if p is not None])

    def __contains__(self, type_name: str) -> bool:
        return type_name in self._plugins or type_name in self._entries


def _load_entry_point(ep: EntryPoint) -> Plugin:
    try:
        plugin = ep.load()
    except Exception as exc:  # a broken third-party plugin must not hide the others
        raise ConfigError(f"plugin '{ep.name}' ({ep.value}) failed to load: {exc}") from exc
    if not isinstance(plugin, Plugin):
        raise ConfigError(f"plugin '{ep.name}' ({ep.value}) is not a runtime.plugin.Plugin")
    if plugin.type != ep.name:
        raise ConfigError(f"plugin entry point '{ep.name}' declares type '{plugin.type}'; they must match")
    return plugin


def load_registry() -> Registry:
    """The registry of the installed plugins; each is imported when first asked for."""
    entries = {ep.name: ep for ep in entry_points(group=GROUP)}
    if not entries:
        raise ConfigError(
            f"no plugins found in entry-point group '{GROUP}': is Koppel installed (pip install -e .)?"
        )
    return Registry(entries=entries)


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The process-wide registry, made once."""
    return load_registry()
