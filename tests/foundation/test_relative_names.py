"""``RelativeNames`` (runtime/yamlsource.py) names every file as ``runtime.diagnostics.relative``
does, with each folder resolved once: plain files, symlinked files and folders, files outside the
project, absent files, relative paths and symlink loops."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.diagnostics import relative
from runtime.yamlsource import RelativeNames


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "mappings" / "valuemaps").mkdir(parents=True)
    (root / "mappings" / "a.yaml").write_text("a: 1\n", encoding="utf-8")
    (root / "mappings" / "valuemaps" / "m.yaml").write_text("m: 1\n", encoding="utf-8")
    (root / "mappings" / "b.yaml").symlink_to(root / "mappings" / "a.yaml")  # a file by another name
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "c.yaml").write_text("c: 1\n", encoding="utf-8")
    (root / "mappings" / "c.yaml").symlink_to(outside / "c.yaml")  # a file outside the project
    (root / "linked").symlink_to(root / "mappings")  # a folder by another name
    (root / "away").symlink_to(outside)  # a folder outside the project
    (root / "loop").symlink_to(root / "loop")
    return root


def test_every_kind_of_path_gets_the_name_relative_gives(tree: Path) -> None:
    names = RelativeNames(tree)
    paths = [
        tree / "mappings" / "a.yaml", tree / "mappings" / "valuemaps" / "m.yaml", tree / "mappings" / "b.yaml",
        tree / "mappings" / "c.yaml", tree / "linked" / "a.yaml", tree / "linked" / "b.yaml",
        tree / "away" / "c.yaml", tree / "mappings" / "absent.yaml", tree / "absent" / "x.yaml",
        tree / "mappings" / ".." / "mappings" / "a.yaml", tree.parent / "elsewhere" / "c.yaml",
        tree / "mappings", tree / "mappings" / ".", tree, Path("mappings/a.yaml"),
    ]
    for path in paths * 2:  # the second time from what was resolved the first
        assert names(path) == relative(path, tree), path


def test_a_relative_path_is_taken_from_the_working_folder(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    assert RelativeNames(tree)(Path("mappings/a.yaml")) == relative(Path("mappings/a.yaml"), tree) == "mappings/a.yaml"


def test_an_unresolved_root_is_resolved_as_relative_resolves_it(tree: Path) -> None:
    root = tree / "mappings" / ".."
    assert RelativeNames(root)(tree / "linked" / "a.yaml") == relative(tree / "linked" / "a.yaml", root) == "mappings/a.yaml"


def test_a_symlink_loop_raises_as_relative_raises(tree: Path) -> None:
    with pytest.raises(RuntimeError) as expected:
        relative(tree / "loop" / "x.yaml", tree)
    with pytest.raises(RuntimeError) as got:
        RelativeNames(tree)(tree / "loop" / "x.yaml")
    assert str(got.value) == str(expected.value)


def test_a_folder_that_changes_is_seen_by_the_next_load(tree: Path) -> None:
    assert RelativeNames(tree)(tree / "moved" / "a.yaml") == "moved/a.yaml"
    os.symlink(tree / "mappings", tree / "moved")
    assert RelativeNames(tree)(tree / "moved" / "a.yaml") == relative(tree / "moved" / "a.yaml", tree) == "mappings/a.yaml"
