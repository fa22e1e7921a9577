"""Compiled expressions give exactly what JMESPath's interpreter gives, for every shape."""

from __future__ import annotations

import jmespath
import pytest

from runtime.mapping.compiler import ExpressionCompiler, ExpressionProblem, Namespace
from runtime.mapping.functions import KoppelFunctions

RECORD = {
    "a": {"b": {"c": 3}, "l": [1, 2, 3], "s": "tekst", "zero": 0, "f": False, "e": "", "n": None},
    "items": [{"x": 2, "name": "b"}, {"x": 1, "name": "a"}, {"x": 3, "name": "c"}],
    "one": 1,
    "t": True,
    "s": "abc",
    "list": [[1, 2], [3]],
}

EXPRESSIONS = [
    "a", "a.b.c", "a.b.c.d", "a.s.x", "missing.deeper", "a.l[0]", "a.l[-1]", "a.l[5]", "a.s[0]",
    "items[1].name", "@", "a.b | c", "`5`", "'raw'", "`[1, 2]`", "one == `1`", "one == t",
    "t == `true`", "a.zero == `0`", "a.zero == f", "one != `1`", "a.s == 'tekst'", "a.n == `null`",
    "one < `2`", "one >= `1`", "a.s < 'u'", "a.zero && 'yes'", "a.f && 'yes'", "a.e || 'fallback'",
    "a.n || a.zero", "!a.l", "!a.e", "length(a.l)", "length(items)", "items[*].name",
    "items[?x > `1`].name", "sort_by(items, &x)[0].name", "{n: one, s: s}", "[one, s]",
    "list[]", "a.l[0:2]", "to_string(one)", "not_null(a.n, a.s)", "upper(s)", "concat(s, '-', one)",
    "coalesce(a.n, a.zero)", "length(items[?x > `1`])", "a.*", "items[0].x == `2` && a.s == 'tekst'",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_compiled_matches_the_interpreter(expression):
    ns = Namespace()
    code = ExpressionCompiler(ns).source(expression, "c")
    compiled = eval(f"lambda c, r: {code}", ns.names)
    options = jmespath.Options(custom_functions=KoppelFunctions())
    assert compiled(RECORD, RECORD) == jmespath.search(expression, RECORD, options=options)


def test_common_shapes_become_plain_python_not_interpreter_calls():
    ns = Namespace()
    compiler = ExpressionCompiler(ns)
    for expression in ["a.b.c", "items[0].name", "a.s == 'x'", "upper(a.s) || 'y'", "!a.f && `1`"]:
        assert "_sub" not in compiler.source(expression, "r"), expression
    assert "_sub" in compiler.source("items[*].name", "r")  # projections use the interpreter


def test_bare_null_true_false_are_values():
    ns = Namespace()
    code = ExpressionCompiler(ns).source("a.n == null && t == true", "r")
    assert eval(f"lambda c, r: {code}", ns.names)(RECORD, RECORD) is True


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("a..b", "invalid expression"),
        ("nope(a)", "unknown function nope()"),
        ("to_date()", "needs at least 1"),
        ("upper(a, b)", "at most 1"),
        ("length(a, b)", "length() takes 1"),
        ("", "cannot be empty"),
    ],
)
def test_bad_expressions_are_reported_when_compiled(expression, message):
    with pytest.raises(ExpressionProblem, match=message.replace("(", r"\(").replace(")", r"\)")):
        ExpressionCompiler(Namespace()).source(expression, "r")
