"""What the compiler makes of each shape, beyond the value (the oracle checks values): which
paths a mapping computes once per record, which expressions need no truth test, which shapes
become plain Python instead of an interpreter call, and where a problem is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.mapping.compiler import (
    ExpressionCompiler,
    ExpressionProblem,
    Namespace,
    is_boolean,
    parse,
    root_chains,
)
from runtime.mapping.engine import Builder, MappingContext

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("expression, chains", [
    ("a", [("a",)]),
    ("a.b[0].c", [("a", "b", 0, "c")]),
    ("a[-1]", [("a", -1)]),
    ("a.b == c && !(d.e) || length(f[0])", [("a", "b"), ("c",), ("d", "e"), ("f", 0)]),
    ("!d.e", []),                                     # (!d).e: JMESPath binds ! tighter than .
    ("concat(a, 'x', b.c)", [("a",), ("b", "c")]),
    ("a < `1`", [("a",)]),
    ("`1`", []), ("'x'", []), ("@", []),
    ("a[*].b", []), ("a[?b]", []), ("a | b", []), ("{x: a}", []), ("[a, b]", []), ("a[0:2]", []),
    ("sort_by(a, &b)", []),                          # an expref: evaluated per element, not from here
    ("length(a[*].b) == c", [("c",)]),               # the projection's own paths are not this record's
])
def test_root_chains_are_the_plain_paths_read_from_the_record(expression, chains):
    assert root_chains(parse(expression)) == chains


@pytest.mark.parametrize("expression, boolean", [
    ("!a", True), ("a == b", True), ("a != `1`", True), ("!(a && b)", True),
    ("a < b", False), ("a <= b", False), ("a > b", False), ("a >= b", False),
    ("a && b", False), ("a || b", False), ("a", False), ("length(a)", False), ("`true`", False),
])
def test_is_boolean_says_which_expressions_always_give_true_or_false(expression, boolean):
    assert is_boolean(parse(expression)) is boolean


def test_a_condition_tests_truth_only_where_the_value_may_not_be_a_boolean():
    compiler = ExpressionCompiler(Namespace())
    assert not compiler.condition("a == 'x'", "c").startswith("_truthy(")
    assert not compiler.condition("!a", "c").startswith("_truthy(")
    assert compiler.condition("a", "c").startswith("_truthy(")
    assert compiler.condition("a < `2`", "c").startswith("_truthy(")


def test_a_hoisted_path_is_read_from_its_local_variable():
    compiler = ExpressionCompiler(Namespace())
    hoist = {("a",): "_h0", ("a", "b"): "_h1"}
    assert compiler.source("a.b.c", "r", hoist) == "(_t.get('c') if type(_t := _h1) is dict else None)"
    assert "_h0" in compiler.source("a.x", "r", hoist)
    assert "_h1" in compiler.condition("a.b", "r", hoist)
    assert "_h" not in compiler.source("a.b.c", "r")  # without a hoist table: the path itself


@pytest.mark.parametrize("expression", ["(a || b)[0]", "(a || b)[-1]", "length(a)[0]", "(a && b)[1][0]"])
def test_an_index_of_a_computed_value_is_plain_python(expression):
    assert "_sub" not in ExpressionCompiler(Namespace()).source(expression, "c")


@pytest.mark.parametrize("expression", ["(a || b)[0:1]", "(a || b)[*]"])
def test_a_slice_or_projection_of_a_computed_value_goes_to_the_interpreter(expression):
    ns = Namespace()
    code = ExpressionCompiler(ns).source(expression, "c")
    assert "_sub" in code
    fn = eval(f"lambda c, r: {code}", ns.names)
    assert fn({"a": [3, 4]}, {}) == ([3] if ":" in expression else [3, 4])


def test_a_syntax_error_says_where():
    with pytest.raises(ExpressionProblem) as info:
        parse("a ]")
    assert info.value.column == 2 and str(info.value) == "invalid expression 'a ]': Unexpected token: ] near ']'"


def test_an_unknown_value_map_fails_when_the_mapping_is_compiled_not_per_record():
    compiler = ExpressionCompiler(Namespace(context=MappingContext(ROOT)))
    with pytest.raises(ExpressionProblem, match="bestaat-niet"):
        compiler.source("lookup(a, 'bestaat-niet')", "c")
    assert "_F_lookup" in compiler.source("lookup(a, 'leertraject')", "c")
    # without a project (a bare compiler, as in these tests) there is nothing to look it up in
    assert "_F_lookup" in ExpressionCompiler(Namespace()).source("lookup(a, 'bestaat-niet')", "c")


def _hoisted(output: dict, **extra) -> dict:
    builder = Builder(MappingContext(None))
    builder.build({"name": "h", "output": output, **extra})
    return builder.hoist


def test_a_mapping_computes_a_path_read_by_several_fields_once():
    assert _hoisted({"x": "a.b.c", "y": "a.b.d", "z": "length(a.b.e)", "w": "!(a.f)"}) == {
        ("a",): "_h0", ("a", "b"): "_h1"}
    assert _hoisted({"x": "a.b", "y": "c"}) == {}
    # a path read only through one longer shared path is computed inside that one
    assert _hoisted({"x": "a.b.c", "y": "a.b.c == `1`"}) == {("a", "b", "c"): "_h0"}
    assert _hoisted({"x": "a.b", "y": "a.c"}, where="a.d") == {("a",): "_h0"}


@pytest.mark.parametrize("expression, lambdas", [
    ("(a || b).c", 1), ("(a || b).c[0]", 1),  # one lambda binds the input of `a || b` (read twice)
    ("@.a", 0), ("`{\"a\": 1}`.a", 0), ("a[0].b", 0),  # a field, index, literal or @ step reads once
])
def test_only_a_step_that_reads_its_input_twice_binds_it_first(expression, lambdas):
    assert ExpressionCompiler(Namespace()).source(expression, "c").count("lambda") == lambdas


def test_root_inside_a_shape_the_interpreter_evaluates_sees_the_record():
    from runtime.mapping import compile_mapping

    mapping = compile_mapping({"name": "r", "output": {
        "wanted": "items[?x == root().want].name",
        "plain": "root().want",
        "after": "items[0].root().want",
    }}, None)
    record = {"want": 2, "items": [{"x": 1, "name": "een"}, {"x": 2, "name": "twee"}]}
    assert mapping(record) == {"wanted": ["twee"], "plain": 2, "after": 2}


def test_an_unknown_function_is_named_with_the_closest_known_one_even_when_nested():
    from runtime.mapping.compiler import check_functions

    for expression in ("uper(a)", "length(uperr(a))", "a == concat(uper(b), 'x')"):
        with pytest.raises(ExpressionProblem) as info:
            check_functions(parse(expression))
        name = expression.split("uper")[1].split("(")[0]
        assert str(info.value) == (f"unknown function uper{name}(); did you mean upper()? "
                                   "see mappings/README.md for the list")
    with pytest.raises(ExpressionProblem) as info:
        check_functions(parse("qqqqq(a)"))
    assert str(info.value) == "unknown function qqqqq(); see mappings/README.md for the list"


def test_a_value_map_lookup_gets_the_mappings_context_as_first_argument():
    ns = Namespace(context=MappingContext(ROOT))
    code = ExpressionCompiler(ns).source("lookup(a, 'leertraject')", "c")
    assert code.startswith("_F_lookup(_ctx, ")
    fn = eval(f"lambda c, r: {code}", ns.names)
    assert fn({"a": "BOL-DT"}, {}) == "BOL_DT" and fn({"a": "EXTRANEUS"}, {}) == "EX"


def test_a_literal_second_argument_is_checked_as_a_value_map_only_for_lookup():
    compiler = ExpressionCompiler(Namespace(context=MappingContext(ROOT)))
    assert "_F_concat" in compiler.source("concat(a, '-')", "c")


@pytest.mark.parametrize("expression, code", [
    ("root()", "r"),
    ("a[0]", "(_t[0] if type(_t := c.get('a') if type(_t := c) is dict else None) is list and len(_t) > 0 else None)"),
    ("`1`", "1"), ("'x'", "'x'"), ("`null`", "None"),
])
def test_the_plainest_python_for_the_plainest_shapes(expression, code):
    got = ExpressionCompiler(Namespace()).source(expression, "c")
    if expression == "a[0]":
        assert "_index(" not in got and "len(_t) > 0" in got  # a non-negative index needs no helper
    else:
        assert got == code


def test_zero_argument_functions_other_than_root_are_called():
    got = ExpressionCompiler(Namespace()).source("today()", "c")
    assert got.startswith("_F_today(") and got != "r"


def test_comparisons_with_null_or_text_use_python_operators_and_others_jmespath_equality():
    compiler = ExpressionCompiler(Namespace())
    assert compiler.source("a == `null`", "c").endswith(" is None)")
    assert compiler.source("a != `null`", "c").endswith(" is not None)")
    assert compiler.source("`null` == a", "c").startswith("(None is ")
    assert " == 'x')" in compiler.source("a == 'x'", "c") and "_eq" not in compiler.source("'x' == a", "c")
    assert compiler.source("a == `1`", "c").startswith("_eq(")
    assert compiler.source("a != b", "c").startswith("(not _eq(")


def test_an_expref_argument_sends_the_whole_call_to_the_interpreter():
    ns = Namespace()
    code = ExpressionCompiler(ns).source("sort_by(a, &b)", "c")
    assert code.startswith("_sub") and code.endswith("(c)") and "_builtin" not in code


def test_a_hoisted_path_is_used_from_the_root_only_and_a_given_table_wins():
    compiler = ExpressionCompiler(Namespace())
    assert compiler.chain(("a", "b"), "r", {("a",): "_h0"}) == "(_t.get('b') if type(_t := _h0) is dict else None)"
    assert compiler.chain(("a",), "c", {("a",): "_h0"}) == "(_t.get('a') if type(_t := c) is dict else None)"
    assert compiler.source("a.b[0]", "r", {("a", "b", 0): "_h3"}) == "_h3"
    assert compiler.source("a.b[0].c", "r", {("a", "b", 0): "_h3"}) == "(_t.get('c') if type(_t := _h3) is dict else None)"
    compiler.hoist = {("a",): "_hX"}
    assert "_h0" in compiler.chain(("a", "b"), "r", {("a",): "_h0"})  # the table given, not the compiler's own
    compiler.source("a.b", "r", {("a",): "_h0"})
    assert "_hX" in compiler.chain(("a", "b"), "r")  # its own table is back after a call with another


def test_an_index_of_a_path_is_read_from_the_hoisted_local_like_any_path():
    compiler = ExpressionCompiler(Namespace())
    assert compiler.source("a[0]", "r", {("a", 0): "_h3"}) == "_h3"
    assert compiler.source("a[0][1]", "r", {("a", 0, 1): "_h4"}) == "_h4"
    assert compiler.source("a[-1]", "r", {("a", -1): "_h5"}) == "_h5"


def test_a_slice_after_an_index_of_a_path_goes_to_the_interpreter():
    # JMESPath parses a[0][1:] as one index node (not a projection) with a slice as its last step
    ns = Namespace()
    code = ExpressionCompiler(ns).source("a[0][1:]", "c")
    assert code.startswith("_sub")
    assert eval(f"lambda c, r: {code}", ns.names)({"a": [[1, 2, 3]]}, {}) == [2, 3]


def _source(output: dict) -> str:
    return Builder(MappingContext(None)).build({"name": "s", "output": output}).source


def test_only_a_mapping_whose_interpreted_shape_calls_root_sets_the_record_as_root():
    assert "_ctx.root.set(r)" in _source({"x": "items[?x == root().want].name"})
    assert "_ctx.root.set(r)" in _source({"x": "items[?length(root().a) > `1`]"})
    for plain in ("items[?x == y].name", "items[?length(x) > `1`]", "items[?root == `1`]", "root()", "length(a)"):
        assert "_ctx.root" not in _source({"x": plain}), plain


@pytest.mark.parametrize("literal", ["`1e400`", "`-1e400`", "`NaN`"])
def test_a_literal_infinity_or_nan_is_a_constant_of_the_namespace_not_its_repr(literal):
    ns = Namespace()
    code = ExpressionCompiler(ns).source(literal, "c")
    assert code.startswith("_k") and code in ns.names
    assert ExpressionCompiler(Namespace()).source("`1.5`", "c") == "1.5"  # a finite float is written out


@pytest.mark.parametrize("text, message, column", [
    (5, "an expression must be text (quote it); for a fixed value write {const: ...}", None),
    ("  ", "an expression cannot be empty", None),
    ("a.", "invalid expression 'a.': Expecting: ['quoted_identifier', 'unquoted_identifier', 'lbracket', "
           "'lbrace'], got: eof", 2),                                     # at the end: no "near"
    ("a ~ b", "invalid expression 'a ~ b': Unknown token ~ near '~'", 2),  # the lexer's own message
    ("a ==", "invalid expression 'a ==': Invalid jmespath expression", 4),  # incomplete: no "near None"
])
def test_what_an_expression_problem_says(text, message, column):
    with pytest.raises(ExpressionProblem) as info:
        parse(text)
    assert str(info.value) == message and info.value.column == column


def test_reading_bare_null_does_not_change_what_jmespath_makes_of_the_same_text():
    """jmespath caches parsed trees; the compiler's reading of a bare null must stay its own."""
    import jmespath

    text = "a || b == null"
    tree = parse(text)
    assert tree["children"][1]["children"][1] == {"type": "literal", "value": None, "children": []}
    assert jmespath.search(text, {"a": False, "b": 1, "null": 1}) is True  # standard: a field called null


def test_a_variadic_builtin_takes_its_minimum_and_more_but_not_fewer():
    from runtime.mapping.compiler import check_functions

    check_functions(parse("merge(a)"))
    check_functions(parse("merge(a, b, c)"))
    with pytest.raises(ExpressionProblem, match=r"merge\(\) takes 1 argument\(s\), got 0"):
        check_functions(parse("merge()"))
