"""A definition file read twice in one process (catalog.yaml by the project and by plugin checks)
is parsed once (runtime/yamlsource.py's _PARSED), yet every reader gets data of its own, and
changed bytes are parsed again."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime import yamlsource
from runtime.yamlsource import YamlProblem, load_file


def test_readers_get_their_own_copy(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a:\n  b: [1, 2]\n", encoding="utf-8")
    first = load_file(path, "x.yaml")
    first.data["a"]["b"].append(3)
    first.positions.clear()
    second = load_file(path, "x.yaml")
    assert second.data == {"a": {"b": [1, 2]}}
    assert second.where(("a", "b")) == (2, 3)  # where the key b is written


def test_the_same_bytes_are_parsed_once(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "once.yaml"
    path.write_text("unique: 8f3a1c\n", encoding="utf-8")
    parsed = []
    original = yamlsource._load_bytes
    monkeypatch.setattr(yamlsource, "_load_bytes", lambda raw, name: parsed.append(name) or original(raw, name))
    load_file(path, "once.yaml")
    load_file(path, "once.yaml")
    assert parsed == ["once.yaml"]


def test_changed_bytes_are_parsed_again(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\n", encoding="utf-8")
    assert load_file(path, "x.yaml").data == {"a": 1}
    path.write_text("a: 2\n", encoding="utf-8")
    assert load_file(path, "x.yaml").data == {"a": 2}


def test_a_broken_file_fails_every_time_with_its_diagnostic(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("a: 1\na: 2\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(YamlProblem) as exc:
            load_file(path, "bad.yaml")
        assert [d.message for d in exc.value.diagnostics] == ["duplicate key 'a' (first written on line 1)"]


def test_a_read_file_knows_every_position_load_text_gives(tmp_path: Path) -> None:
    """The positions stay pickled until asked for (yamlsource._Read): asked, they are load_text's."""
    text = "a:\n  b: [1, 2]\n  c: {d: x}\nlist:\n  - e: 1\n"
    path = tmp_path / "where.yaml"
    path.write_text(text, encoding="utf-8")
    read, parsed = load_file(path, "where.yaml"), yamlsource.load_text(text, "where.yaml")
    assert isinstance(read, yamlsource.Located)
    assert (read.file, read.data, read.positions, read.key_positions) == \
        (parsed.file, parsed.data, parsed.positions, parsed.key_positions)
    for loc in [("a",), ("a", "b", 1), ("a", "c", "d"), ("list", 0, "e"), ("list", 0, "unknown"), ("nope",)]:
        assert read.where(loc) == parsed.where(loc), loc
        assert read.diagnostic(loc, "m") == parsed.diagnostic(loc, "m"), loc
    again = load_file(path, "where.yaml")
    read.key_positions = {}
    assert again.key_positions == parsed.key_positions and read.positions == parsed.positions
