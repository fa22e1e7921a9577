"""The fingerprint taken again after validating (runtime/cli/validate_cache.py, ``store``) takes a
file's content from the first when the file's status is unchanged and settled before the first
began; any write in between, even one that keeps the size and sets the modification time back,
is read again and changes the key."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from runtime.cli import validate_cache as cache


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "mappings").mkdir(parents=True)
    (root / "catalog.yaml").write_text("systems: {}\n", encoding="utf-8")
    (root / "mappings" / "a.yaml").write_text("name: a\n", encoding="utf-8")
    monkeypatch.setenv("KOPPEL_SPECS_DIR", str(tmp_path / "specs"))
    monkeypatch.setenv("KOPPEL_CACHE_DIR", str(tmp_path / "cache"))
    return root


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    read: list[str] = []
    real = cache._content

    def content(path: str) -> str:
        read.append(path)
        return real(path)

    monkeypatch.setattr(cache, "_content", content)
    return read


def test_unchanged_settled_files_are_not_read_again(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = cache.Fingerprint(project)
    first.began_ns += 10 * cache.SETTLED_NS  # ...as if the first began long after every change
    read = _reads(monkeypatch)
    second = cache.Fingerprint(project, earlier=first)
    assert second.key == first.key
    assert not [p for p in read if p.startswith(str(project))], "the project's files came from the first"


def test_a_file_changed_just_before_the_first_is_read_again(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = cache.Fingerprint(project)  # the files were written just now: not settled
    read = _reads(monkeypatch)
    assert cache.Fingerprint(project, earlier=first).key == first.key
    assert os.path.realpath(project / "mappings" / "a.yaml") in read


def test_a_write_after_the_first_changes_the_key_whatever_its_times(project: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    mapping = project / "mappings" / "a.yaml"
    first = cache.Fingerprint(project)
    first.began_ns += 10 * cache.SETTLED_NS  # every file settled, as far as the first knows
    info = mapping.stat()
    time.sleep(0.05)  # past the file-system clock's tick (the margin the test took away stands for it)
    mapping.write_text("name: b\n", encoding="utf-8")  # the same size
    os.utime(mapping, ns=(info.st_atime_ns, info.st_mtime_ns))  # and the old modification time
    assert cache.Fingerprint(project, earlier=first).key != first.key


def test_an_added_or_removed_file_changes_the_key(project: Path) -> None:
    first = cache.Fingerprint(project)
    first.began_ns += 10 * cache.SETTLED_NS
    (project / "mappings" / "b.yaml").write_text("name: b\n", encoding="utf-8")
    assert cache.Fingerprint(project, earlier=first).key != first.key
    (project / "mappings" / "b.yaml").unlink()
    (project / "mappings" / "a.yaml").unlink()
    assert cache.Fingerprint(project, earlier=first).key != first.key
