"""The plugin registry, filled from the entry-point group ``koppel.plugins``.

Built-in plugins are declared in pyproject.toml exactly like third-party ones, so nothing here
knows any plugin by name and adding one never edits ``runtime/``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

from runtime.errors import ConfigError
from runtime.plugin import Plugin

GROUP = "koppel.plugins"


class Registry:
    def __init__(self, plugins: dict[str, Plugin]) -> None:
        self._plugins = dict(sorted(plugins.items()))

    def get(self, type_name: str, role: str | None = None) -> Plugin:
        plugin = self._plugins.get(type_name)
        if plugin is None or (role and role not in plugin.roles):
            known = ", ".join(self.names(role)) or "none"
            what = f"{role} plugin" if role else "plugin"
            raise ConfigError(f"unknown {what} type '{type_name}'; known: {known}")
        return plugin

    def names(self, role: str | None = None) -> list[str]:
        return [n for n, p in self._plugins.items() if role is None or role in p.roles]

    def __iter__(self):
        return iter(self._plugins.values())

    def __contains__(self, type_name: str) -> bool:
        return type_name in self._plugins


def load_registry() -> Registry:
    plugins: dict[str, Plugin] = {}
    for ep in entry_points(group=GROUP):
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party plugin must not hide the others
            raise ConfigError(f"plugin '{ep.name}' ({ep.value}) failed to load: {exc}") from exc
        if not isinstance(plugin, Plugin):
            raise ConfigError(f"plugin '{ep.name}' ({ep.value}) is not a runtime.plugin.Plugin")
        if plugin.type != ep.name:
            raise ConfigError(
                f"plugin entry point '{ep.name}' declares type '{plugin.type}'; they must match"
            )
        plugins[ep.name] = plugin
    if not plugins:
        raise ConfigError(
            f"no plugins found in entry-point group '{GROUP}': is Koppel installed (pip install -e .)?"
        )
    return Registry(plugins)


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The process-wide registry, loaded once."""
    return load_registry()
