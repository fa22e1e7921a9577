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


# -- hostile and broken files: one diagnostic, bounded cost (tests/hostile runs them through the CLI)


def _problem(text_or_bytes) -> str:
    from runtime.yamlsource import load_bytes

    raw = text_or_bytes.encode() if isinstance(text_or_bytes, str) else text_or_bytes
    with pytest.raises(YamlProblem) as info:
        load_bytes(raw, "f.yaml")
    [diagnostic] = info.value.diagnostics
    return str(diagnostic)


def test_nesting_is_capped_at_the_limit_exactly() -> None:
    from runtime.yamlsource import MAX_DEPTH, load_text

    # the document's root mapping is one level, each [ one more
    assert load_text("a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)).data["a"] is not None
    assert _problem("a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH) == "f.yaml:1:67: not valid YAML: nested deeper than 64 levels"


def test_aliases_are_capped_in_number_and_expansion(monkeypatch) -> None:
    from runtime import yamlsource
    from runtime.yamlsource import MAX_ALIASES, load_text

    assert len(load_text("a: &a 1\nb: [" + ", ".join(["*a"] * MAX_ALIASES) + "]\n").data["b"]) == MAX_ALIASES
    assert _problem("a: &a 1\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n").endswith("more than 1000 aliases")
    monkeypatch.setattr(yamlsource, "MAX_EXPANDED", 1000)  # the same rule at a size that runs fast
    # 10 aliases of a list of 100 values add 990 values beyond those written: within the allowance ...
    big = "a: &a [" + ", ".join(["1"] * 99) + "]\n"
    assert len(load_text(big + "b: [" + ", ".join(["*a"] * 10) + "]\n").data["b"]) == 10
    # ... one more is refused, pointing at the aliased value
    assert _problem(big + "b: [" + ", ".join(["*a"] * 11) + "]\n").startswith("f.yaml:1:")
    assert "aliases expand to more than 1000 values" in _problem(big + "b: [" + ", ".join(["*a"] * 11) + "]\n")


def test_encodings_and_bytes() -> None:
    from runtime.yamlsource import load_bytes

    assert load_bytes(b"\xef\xbb\xbfa: 1\n", "f.yaml").data == {"a": 1}  # a UTF-8 BOM is fine
    assert _problem("a: 1\nb: caf\u00e9\n".encode("latin-1")) == "f.yaml:2:7: not UTF-8 text (byte 0xe9); save the file as UTF-8"
    assert _problem("a: 1\n".encode("utf-16")) == "f.yaml:1:1: UTF-16 text; save the file as UTF-8"
    assert _problem(b"a: 1\nb: x\x00y\n") == "f.yaml:2:5: contains a NUL byte: a binary file, not YAML text"
    assert _problem(b"a: 1\nb: x\x1by\n") == "f.yaml:2:5: not valid YAML: control character #x001b is not allowed"


def test_size_is_capped_before_parsing(tmp_path) -> None:
    from runtime.yamlsource import MAX_BYTES, load_file

    over = tmp_path / "big.yaml"
    over.write_bytes(b"a: " + b"x" * MAX_BYTES + b"\n")
    with pytest.raises(YamlProblem, match="larger than 512 KB"):
        load_file(over, "big.yaml")  # refused unread: parsing 512 KB would take PyYAML seconds


def test_diagnostics_without_a_line_sort_with_the_others() -> None:
    from runtime.diagnostics import Diagnostic

    found = [Diagnostic("b.yaml", 3, 1, "", "x"), Diagnostic("a.yaml", None, None, "", "y"), Diagnostic("a.yaml", 2, 5, "", "z")]
    assert [d.message for d in sorted(found)] == ["y", "z", "x"]
