"""The plugin registry, filled from the entry-point group ``koppel.plugins``.

Built-in plugins are declared in pyproject.toml exactly like third-party ones, so nothing here
knows any plugin by name and adding one never edits ``runtime/``.

A plugin is imported when it is first asked for, not when the registry is made: ``koppel run 0``
(a ``db`` interface) then imports the ``db`` plugin's spec module and not the SOAP, REST or SFTP
ones. Whatever needs every plugin (``koppel validate``, the JSON Schema, an unknown type's
"known: ..." list) iterates the registry, which loads them all.

Finding the entry points (importlib.metadata's ``entry_points``) reads the metadata of every
installed distribution, some 100 of them: 10-15 ms of every command, measured. A process started
as the ``koppel`` command keeps what it found (name → ``module:attr``) in Koppel's cache folder
(runtime/cli/validate_cache.py's), under a key over everything that scan reads
(``installation_key``): sys.path, and in each of its folders the name of every .dist-info and
.egg-info and the status of its entry_points.txt. Installing, upgrading or removing a
distribution, or reinstalling Koppel with other entry points, changes the key, and the next
command scans again. A missing, unreadable or broken cache file is a scan, never an error; so is
one that another user could have written (what it names is imported).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from functools import lru_cache, reduce
from typing import Any

from runtime.errors import ConfigError
from runtime.plugin import Plugin

GROUP = "koppel.plugins"
#: bump when what the cache file holds, or how its key is taken, changes
CACHE_FORMAT = 1
#: an entry point's value, as importlib.metadata.EntryPoint reads it: ``module:attr.attr [extras]``
_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")
_METADATA = (".dist-info", ".egg-info")
#: cache files kept, the most recently written
KEEP = 16
#: how long before a scan the last change of every file it read must lie for its result to be
#: kept (the file-system clock ticks in a few ms; see installation_key)
SETTLED_NS = 2_000_000_000


class Registry:
    def __init__(self, plugins: dict[str, Plugin] | None = None, *,
                 entries: dict[str, str] | None = None, whole: Registry | None = None) -> None:
        """``plugins`` loaded already (tests pass their own); ``entries`` (name → the entry
        point's ``module:attr``) loaded on first use. ``whole``: this is a ``subset`` of that registry."""
        self.whole = whole or self
        self.partial = whole is not None
        self._plugins = dict(plugins or {})
        self._entries = {name: value for name, value in (entries or {}).items() if name not in self._plugins}
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
            plugin = _load_entry_point(type_name, self._entries[type_name])
            self._plugins[type_name] = plugin
            del self._entries[type_name]
            return plugin

    def __iter__(self) -> Iterator[Plugin]:
        plugins = [self._load(name) for name in self._names]
        return iter([p for p in plugins if p is not None])

    def __contains__(self, type_name: str) -> bool:
        return type_name in self._plugins or type_name in self._entries


def _load_entry_point(name: str, value: str) -> Plugin:
    try:
        plugin = _import(value)
    except Exception as exc:  # a broken third-party plugin must not hide the others
        raise ConfigError(f"plugin '{name}' ({value}) failed to load: {exc}") from exc
    if not isinstance(plugin, Plugin):
        raise ConfigError(f"plugin '{name}' ({value}) is not a runtime.plugin.Plugin")
    if plugin.type != name:
        raise ConfigError(f"plugin entry point '{name}' declares type '{plugin.type}'; they must match")
    return plugin


def _import(value: str) -> Any:
    """What ``importlib.metadata.EntryPoint(value=value).load()`` gives, without importlib.metadata."""
    match = _VALUE.match(value)
    if match is None:
        raise ValueError(f"not an entry point: {value!r}")
    module = importlib.import_module(match.group("module"))
    return reduce(getattr, filter(None, (match.group("attr") or "").split(".")), module)


def load_registry(cached: bool | None = None) -> Registry:
    """The registry of the installed plugins; each is imported when first asked for.
    ``cached``: whether the entry points may come from the cache folder; by default only in a
    process started as the ``koppel`` command (see the module's docstring)."""
    if cached is None:  # the koppel command has imported runtime.cli; no other process need import it
        cached = "runtime.cli" in sys.modules and _started_as_koppel()
    entries = _cached_entries() if cached else _scan()
    if not entries:
        raise ConfigError(
            f"no plugins found in entry-point group '{GROUP}': is Koppel installed (pip install -e .)?"
        )
    return Registry(entries=entries)


def _started_as_koppel() -> bool:
    from runtime.cli.validate_cache import started_as_koppel

    return started_as_koppel()


def _scan() -> dict[str, str]:
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def _cached_entries() -> dict[str, str]:
    """The entry points kept under this installation's key, else scanned (and kept, when the
    installation did not change while scanning and its files are settled)."""
    taken = _installation()
    if taken is None:
        return _scan()
    key, newest_ns = taken
    path = _cache_file()
    kept = _read(path, key)
    if kept is not None:
        return kept
    entries = _scan()
    again = _installation()
    if again is not None and again[0] == key and time.time_ns() - newest_ns > SETTLED_NS:
        _write(path, key, entries)
    return entries


def installation_key() -> str | None:
    """A digest over what ``importlib.metadata.entry_points`` reads; None when it cannot be taken
    (a metadata finder besides the standard one, an old-style .egg folder on sys.path), and then
    the entry points are always scanned.

    The scan looks in each sys.path folder (or zip file) for children named ``*.dist-info`` or
    ``*.egg-info`` and reads their entry_points.txt. The key holds sys.path, each folder's such
    names, and each entry_points.txt's device, inode, size and modification and change times; a
    zip file's status stands for its content. A change time cannot be set back (any write sets
    it to the clock's time), but two writes within one tick of the file-system clock can leave
    the same status: so nothing is kept while a file's last change lies within SETTLED_NS."""
    taken = _installation()
    return taken[0] if taken is not None else None


def _installation() -> tuple[str, int] | None:
    """``installation_key`` and the newest change time (ns) among the files it covers."""
    from importlib.machinery import PathFinder

    for finder in sys.meta_path:
        if getattr(finder, "find_distributions", None) is not None and finder is not PathFinder:
            return None
    newest = [0]
    parts: list[object] = []
    add = parts.extend
    add(("format", CACHE_FORMAT, sys.version, sys.executable, len(sys.path)))
    for entry in sys.path:
        folder = entry or "."
        if os.path.basename(folder).lower().endswith(".egg"):
            return None  # its EGG-INFO is found by another rule: not worth keying
        add(("path", entry))
        try:
            with os.scandir(folder) as listing:
                names = sorted(e.name for e in listing if e.name.lower().endswith(_METADATA))
        except NotADirectoryError:
            add(("file", _status(folder, newest)))  # a zip file on sys.path
            continue
        except OSError as exc:
            add(("unlisted", exc.errno))
            continue
        for name in names:
            add((name, _status(os.path.join(folder, name, "entry_points.txt"), newest)))
    text = "\0".join(map(str, parts))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest(), newest[0]


def _status(path: str, newest: list[int]) -> str:
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"absent {exc.errno}"
    newest[0] = max(newest[0], st.st_ctime_ns)
    return f"{st.st_dev} {st.st_ino} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}"


def _cache_file():  # noqa: ANN202 - a Path
    from runtime.cli.validate_cache import cache_dir

    which = "\0".join([sys.executable, *sys.path])  # one per Python setup, as validate's verdicts
    return cache_dir() / f"plugins-{hashlib.sha256(which.encode('utf-8', 'surrogateescape')).hexdigest()[:24]}.json"


def _read(path, key: str) -> dict[str, str] | None:  # noqa: ANN001
    """The kept entries under ``key``; None if absent, broken, or not written by this user alone
    (what it names is imported: a file another user could write must not choose it)."""
    try:
        with open(path, encoding="utf-8") as handle:
            from runtime.cli.validate_cache import private

            if not all(private(info) for info in (os.fstat(handle.fileno()), os.stat(path.parent))):
                return None
            stored = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("key") != key:
        return None
    entries = stored.get("entries")
    if not isinstance(entries, dict) or not all(
            isinstance(n, str) and isinstance(v, str) for n, v in entries.items()):
        return None
    return entries


def _write(path, key: str, entries: dict[str, str]) -> None:  # noqa: ANN001
    from runtime.cli.validate_cache import prune, write_atomically

    if write_atomically(path, json.dumps({"key": key, "entries": entries})):  # else: the next command scans
        prune(path.parent, "plugins-*.json", KEEP)  # one per Python setup: a virtualenv, a PYTHONPATH


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The process-wide registry, made once."""
    return load_registry()
