"""libyaml parses definition files (~8x faster) but must give exactly what the Python loader
gives: the same data, the same line and column for every path, the same diagnostics. Known
difference: libyaml loads a few odd texts PyYAML refuses (``>#``, a tab after ``key:``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime import yamlsource
from runtime.yamlsource import YamlProblem, load_text

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(
    p for folder in ("interfaces", "mappings", "contracts") for p in (ROOT / folder).rglob("*.y*ml")
) + [ROOT / "catalog.yaml"]

pytestmark = pytest.mark.skipif(yamlsource._FAST is None, reason="PyYAML built without libyaml")


def _with(loader, text: str):
    saved = yamlsource._FAST
    yamlsource._FAST = loader
    try:
        return load_text(text, "f.yaml")
    except YamlProblem as exc:
        return [str(d) for d in exc.diagnostics]
    finally:
        yamlsource._FAST = saved


def _same(text: str, lenient: bool = False) -> None:
    fast, slow = _with(yamlsource._FastLoader, text), _with(None, text)
    if isinstance(slow, list):
        if not (lenient and not isinstance(fast, list)):
            assert fast == slow
    else:
        assert (fast.data, fast.positions, fast.key_positions) == (slow.data, slow.positions, slow.key_positions)


def test_the_fast_loader_is_the_one_used():
    assert yamlsource._FAST is yamlsource._FastLoader
    assert issubclass(yamlsource._FastLoader, yamlsource._CParser)


@pytest.mark.parametrize("path", SHIPPED[::7], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_file_loads_the_same_with_libyaml(path):
    _same(path.read_text(encoding="utf-8"))


def test_limits_hold_under_libyaml():
    deep = "a: " + "[" * 65 + "]" * 65
    assert _with(yamlsource._FastLoader, deep) == ["f.yaml:1:67: not valid YAML: nested deeper than 64 levels"]
    aliases = "a: &a 1\nb: [" + ", ".join(["*a"] * 1001) + "]\n"
    assert _with(yamlsource._FastLoader, aliases)[0].endswith("more than 1000 aliases")


def test_a_syntax_error_reads_as_the_python_loader_words_it():
    # libyaml says "did not find expected key"; the diagnostic keeps PyYAML's wording and mark
    assert _with(yamlsource._FastLoader, "a:\n  b: 1\n c: 2\n") == _with(None, "a:\n  b: 1\n c: 2\n")
    assert _with(yamlsource._FastLoader, "a: 1\nb: x\x1by\n") == [
        "f.yaml:2:5: not valid YAML: control character #x001b is not allowed"
    ]


_scalars = st.one_of(st.integers(), st.booleans(), st.text("abcé: -#'\"\n\t{}[]&*!|>", max_size=8), st.none())
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("abé", min_size=1, max_size=3), inner, max_size=3), max_leaves=12)


@settings(max_examples=60, deadline=None)
@given(_values, st.sampled_from([False, True]))
def test_any_document_loads_the_same(value, flow):
    import yaml

    _same(yaml.safe_dump({"root": value}, default_flow_style=flow, allow_unicode=True))


@settings(max_examples=60, deadline=None)
@given(st.text("ab: -[]{}\n&*'\"#|>", max_size=30))
def test_any_text_fails_or_loads_the_same(text):
    # what both load is the same; what both refuse is worded the same; libyaml may load a few
    # odd texts PyYAML refuses (``>#``, a tab after ``key:``): YAML 1.1 allows them
    _same(text, lenient=True)


# libyaml composes the document in C; the limits are then checked on the composed graph. At each
# limit and one past it, the verdict (and the diagnostic, from the Python loader) must be the same.
_AT_THE_LIMITS = {
    "64 levels": "a: " + "[" * 63 + "]" * 63,
    "65 levels": "a: " + "[" * 64 + "]" * 64,
    "65 block levels": "a:" + "".join("\n" + " " * i + "b:" for i in range(1, 64)) + " 1\n",
    "64 block levels": "a:" + "".join("\n" + " " * i + "b:" for i in range(1, 63)) + " 1\n",
    "1000 aliases": "a: &a 1\nb: [" + ", ".join(["*a"] * 1000) + "]\n",
    "1001 aliases": "a: &a 1\nb: [" + ", ".join(["*a"] * 1001) + "]\n",
    "an alias one level too deep": "a: &a 1\nb: " + "[" * 63 + "*a" + "]" * 63,
    "an alias at the deepest level": "a: &a 1\nb: " + "[" * 62 + "*a" + "]" * 62,
    "an aliased collection": "a: &a {x: [1, 2]}\nb: [*a, *a, {c: *a}]\n",
    "an alias of its own ancestor": "a: &a [1, *a]\n",
    "merge keys": "base: &b {x: 1, y: 2}\nc: {<<: *b, z: 3}\nd:\n  <<: [*b, {w: 4}]\n",
    "aliases expanding past the budget": "a: &a [" + ", ".join(["x"] * 100) + "]\n"
    + "b: &b [" + ", ".join(["*a"] * 100) + "]\n" + "c: [" + ", ".join(["*b"] * 11) + "]\n",
}


@pytest.mark.parametrize("name", sorted(_AT_THE_LIMITS))
def test_the_limits_agree_at_their_edges(name):
    _same(_AT_THE_LIMITS[name])


@pytest.mark.parametrize("name", sorted(_AT_THE_LIMITS))
def test_both_count_the_same_values_written(name):
    # the expansion budget is these values + MAX_EXPANDED: both loaders must count alike
    text = _AT_THE_LIMITS[name]
    try:
        slow = yamlsource._compose(text, yamlsource._BoundedLoader)[1]
    except Exception:  # noqa: BLE001 - beyond the limits: the fast loader refuses too
        with pytest.raises(yamlsource._OutOfBounds):
            yamlsource._compose(text, yamlsource._FastLoader)
        return
    assert yamlsource._compose(text, yamlsource._FastLoader)[1] == slow


def test_libyaml_refuses_deep_nesting_itself():
    # what makes its recursive C composer safe on a hostile file
    assert yamlsource._LIBYAML_NESTS_BOUNDED
    with pytest.raises(Exception, match="nesting depth"):
        yamlsource._compose("[" * 5000, yamlsource._FastLoader)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_file_counts_the_same(path):
    text = path.read_text(encoding="utf-8")
    assert yamlsource._compose(text, yamlsource._FastLoader)[1] == yamlsource._compose(text, yamlsource._BoundedLoader)[1]
