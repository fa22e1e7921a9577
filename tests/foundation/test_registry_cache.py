"""The koppel command keeps the entry points it found in the cache folder (runtime/registry.py),
under a key over the installation: a plugin installed or removed since, or an entry_points.txt
rewritten, is seen by the next command; a broken cache file is a scan."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import sys
import time
from pathlib import Path

import pytest

from runtime import registry as reg


@pytest.fixture
def site(tmp_path, monkeypatch) -> Path:
    """A folder of installed distributions at the head of sys.path, and a cache folder of its own."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("KOPPEL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(reg, "SETTLED_NS", 0)  # the files these tests write are kept at once
    return folder


def _install(site: Path, entry_points: str, name: str = "koppel_fake") -> Path:
    dist = site / f"{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text(entry_points, encoding="utf-8")
    importlib.invalidate_caches()  # importlib.metadata's own listing of the folder, as pip does
    return dist


def _names(monkeypatch) -> tuple[list[str], int]:
    """The registry's names through the cache, and how many scans that took."""
    scans = []
    scan = reg._scan

    def counted() -> dict[str, str]:
        scans.append(1)
        return scan()

    monkeypatch.setattr(reg, "_scan", counted)
    names = reg.load_registry(cached=True).names()
    monkeypatch.setattr(reg, "_scan", scan)
    return names, len(scans)


FAKE = "[koppel.plugins]\nfake = koppel_fake_plugin:plugin\n"


def test_kept_entry_points_are_used_while_nothing_is_installed(site, monkeypatch):
    first, scans = _names(monkeypatch)
    assert scans == 1 and {"db", "sis"} <= set(first)
    again, scans = _names(monkeypatch)
    assert scans == 0 and again == first  # read from the cache file, not scanned


def test_a_plugin_installed_after_the_cache_was_written_is_found(site, monkeypatch):
    before, _ = _names(monkeypatch)
    assert "fake" not in before
    _install(site, FAKE)
    after, scans = _names(monkeypatch)
    assert scans == 1 and set(after) == {*before, "fake"}
    assert _names(monkeypatch) == (after, 0)


def test_a_removed_plugin_is_gone(site, monkeypatch):
    dist = _install(site, FAKE)
    assert "fake" in _names(monkeypatch)[0]
    for file in dist.iterdir():
        file.unlink()
    dist.rmdir()
    importlib.invalidate_caches()
    names, scans = _names(monkeypatch)
    assert scans == 1 and "fake" not in names


def test_an_entry_points_file_rewritten_in_place_is_seen(site, monkeypatch):
    """A reinstall of a distribution with other entry points under the same folder name."""
    dist = _install(site, FAKE)
    assert "fake" in _names(monkeypatch)[0]
    time.sleep(0.01)
    (dist / "entry_points.txt").write_text("[koppel.plugins]\nfaux = koppel_fake_plugin:plugin\n", encoding="utf-8")
    names, scans = _names(monkeypatch)
    assert scans == 1 and "faux" in names and "fake" not in names


def test_nothing_is_kept_while_an_entry_points_file_is_fresh(site, monkeypatch):
    """Two writes within one tick of the file-system clock may leave the same status: a file
    changed within SETTLED_NS is read again by every command until it has settled."""
    monkeypatch.setattr(reg, "SETTLED_NS", 60_000_000_000)
    _install(site, FAKE)
    assert _names(monkeypatch)[1] == 1
    assert _names(monkeypatch)[1] == 1  # not kept: scanned again
    monkeypatch.setattr(reg, "SETTLED_NS", 0)
    assert _names(monkeypatch)[1] == 1
    assert _names(monkeypatch)[1] == 0


@pytest.mark.parametrize("content", ["", "{not json", "[]", '{"key": 1}', None, "entries"])
def test_a_broken_cache_file_is_a_scan(site, monkeypatch, content):
    names, _ = _names(monkeypatch)
    cache = reg._cache_file()
    if content is None:
        cache.unlink()
    elif content == "entries":  # the right key, entries of the wrong kind
        stored = json.loads(cache.read_text(encoding="utf-8"))
        cache.write_text(json.dumps({"key": stored["key"], "entries": {"db": 1}}), encoding="utf-8")
    else:
        cache.write_text(content, encoding="utf-8")
    assert _names(monkeypatch) == (names, 1)
    assert _names(monkeypatch) == (names, 0)  # written again


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_cache_file_others_could_write_is_not_read(site, monkeypatch, what):
    """What a kept file names is imported: one another user could have written is ignored."""
    names, _ = _names(monkeypatch)
    cache = reg._cache_file()
    (cache if what == "file" else cache.parent).chmod(0o666 if what == "file" else 0o777)
    assert _names(monkeypatch) == (names, 1)
    (cache if what == "file" else cache.parent).chmod(0o600 if what == "file" else 0o700)
    assert _names(monkeypatch)[1] == 0


def test_an_unwritable_cache_folder_is_a_scan_every_time(site, monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("KOPPEL_CACHE_DIR", str(blocker / "cache"))  # under a file: cannot be made
    names, scans = _names(monkeypatch)
    assert scans == 1 and _names(monkeypatch) == (names, 1)


def test_no_key_without_the_standard_metadata_finder_alone(monkeypatch):
    class Finder:
        @staticmethod
        def find_distributions(context=None):  # noqa: ANN001, ANN205
            return iter(())

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])
    assert reg.installation_key() is None


def test_an_in_process_caller_scans(site, monkeypatch):
    """Only the koppel command uses the cache: a test may have replaced entry_points in memory."""
    calls = []
    real = importlib.metadata.entry_points
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: calls.append(kw) or real(**kw))
    reg.load_registry()
    assert calls == [{"group": reg.GROUP}]
    assert not list(Path(os.environ["KOPPEL_CACHE_DIR"]).glob("plugins-*.json"))


@pytest.mark.parametrize("value", ["plugins.db:plugin", "os.path:join", "os:path.join", "json", "os.path : join ",
                                   "plugins.db:plugin [extra]"])
def test_a_kept_value_loads_what_its_entry_point_loads(value):
    expected = importlib.metadata.EntryPoint(name="x", value=value, group=reg.GROUP).load()
    assert reg._import(value) is expected
