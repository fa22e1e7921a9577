"""The position-keeping YAML loader."""

from __future__ import annotations

import pytest

from runtime.yamlsource import YamlProblem, load_text


def test_positions_of_keys_and_values() -> None:
    doc = load_text("a: 1\nb:\n  c: [1, 2]\n  d: x\n", "f.yaml")
    assert doc.data == {"a": 1, "b": {"c": [1, 2], "d": "x"}}
    assert doc.where(("b", "d")) == (4, 3)  # the key, where a wrong name is written
    assert doc.where(("b", "c", 1)) == (3, 10)
    assert doc.where(("b", "nope")) == (2, 1)  # nearest existing parent


def test_pydantic_union_tags_are_skipped() -> None:
    doc = load_text("source:\n  type: sis\n  object: x\n", "f.yaml")
    d = doc.diagnostic(("source", "sis", "object"), "bad")
    assert (d.line, d.column, d.path) == (3, 3, "source.object")


def test_duplicate_keys_are_all_reported() -> None:
    with pytest.raises(YamlProblem) as info:
        load_text("a: 1\na: 2\nb: {c: 1, c: 2}\n", "f.yaml")
    messages = [str(d) for d in info.value.diagnostics]
    assert messages == [
        "f.yaml:2:1: a: duplicate key 'a' (first written on line 1)",
        "f.yaml:3:11: b.c: duplicate key 'c' (first written on line 3)",
    ]


def test_syntax_error_has_line_and_column() -> None:
    with pytest.raises(YamlProblem) as info:
        load_text("a: [1\nb: 2\n", "f.yaml")
    assert str(info.value.diagnostics[0]).startswith("f.yaml:2:2: not valid YAML")


def test_python_tags_are_refused() -> None:
    with pytest.raises(YamlProblem):
        load_text("a: !!python/object/apply:os.system ['true']\n", "f.yaml")


def test_merge_keys_work() -> None:
    doc = load_text("base: &b {x: 1}\nuse:\n  <<: *b\n  y: 2\n")
    assert doc.data["use"] == {"x": 1, "y": 2}
