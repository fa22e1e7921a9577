"""JMESPath expressions compiled to Python source, once, when a mapping is loaded.

Per-record ``jmespath.search`` walks the parsed tree again for every field of every record;
that is about 45 times slower than hand-written Python (bench/bench_mapping.py). Here the tree
of each expression is translated into a Python expression string for the common shapes:

    field, sub-expression (a.b.c), index (a[0]), literal, @, comparisons, &&, ||, !,
    function calls on those (Koppel's library called directly, JMESPath's own through its
    type-checked dispatcher)

Any other node (projections, filters, multi-selects, slices, pipes, exprefs) is evaluated by
JMESPath's own interpreter, with Koppel's functions available, on just that subtree. The
semantics are JMESPath's: a field of a non-object is null, ordering comparisons of non-numbers
are null, and null, false, "", [] and {} are false.

The generated code reads the current value from a variable whose name the caller gives
(``cur``), and uses the walrus-bound temporaries ``_t`` and ``_w``. Each temporary is read right
after it is bound, before any other code runs, so nested uses cannot disturb each other.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jmespath.functions
from jmespath import exceptions as jexc
from jmespath.parser import Parser
from jmespath.visitor import Options, TreeInterpreter, _equals

from runtime.mapping.functions import (
    BUILTIN_NAMES,
    FUNCTIONS,
    KoppelFunctions,
    all_functions,
    call_builtin,
)

_COMPILED = frozenset(
    {"field", "subexpression", "index_expression", "literal", "current", "comparator",
     "and_expression", "or_expression", "not_expression", "function_expression"}
)
_SCALARS = (str, int, float, bool, type(None))


class ExpressionProblem(Exception):
    """An expression cannot be compiled: bad syntax, unknown function, wrong argument count."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.column = column


def parse(text: str) -> dict:
    """The parsed tree of ``text``; ExpressionProblem with the column on a syntax error."""
    if not isinstance(text, str):
        raise ExpressionProblem("an expression must be text (quote it); for a fixed value write {const: ...}")
    if not text.strip():
        raise ExpressionProblem("an expression cannot be empty")
    try:
        # a copy: the parser caches trees, and other code may search with the same expression
        return _bare_literals(_copy_tree(Parser().parse(text).parsed))
    except jexc.ParseError as exc:
        msg = getattr(exc, "msg", None) or str(exc).splitlines()[0]
        if isinstance(exc, jexc.LexerError):
            msg = exc.message
        position = getattr(exc, "lex_position", None)
        hint = f" near '{exc.token_value}'" if getattr(exc, "token_value", None) not in (None, "") else ""
        raise ExpressionProblem(f"invalid expression '{text}': {msg}{hint}", position) from exc
    except jexc.JMESPathError as exc:
        raise ExpressionProblem(f"invalid expression '{text}': {exc}") from exc


def _copy_tree(node: Any) -> Any:
    """A copy of a parsed tree (dicts, lists and JSON values), a fifth of copy.deepcopy's time:
    validate parses some 500 expressions."""
    if type(node) is dict:
        return {key: _copy_tree(value) for key, value in node.items()}
    if type(node) is list:
        return [_copy_tree(value) for value in node]
    return node


_BARE = {"null": None, "true": True, "false": False}
_OPERAND_PARENTS = frozenset(
    {"comparator", "and_expression", "or_expression", "not_expression", "function_expression",
     "key_val_pair", "multi_select_list", "pipe"}
)


def _bare_literals(node: dict, parent: str | None = None) -> dict:
    """Read a bare ``null``, ``true`` or ``false`` operand as the value, not as a field name.

    Standard JMESPath wants backticks (`` `null` ``); ``person.bsn != null`` would then compare
    with a field called null. Integration specialists write it without, so both forms work.
    """
    if node.get("type") == "field" and node.get("value") in _BARE and parent in _OPERAND_PARENTS:
        return {"type": "literal", "value": _BARE[node["value"]], "children": []}
    children = node.get("children")
    if children:
        node["children"] = [
            _bare_literals(c, node["type"]) if isinstance(c, dict) else c for c in children
        ]
    return node


def check_functions(tree: dict) -> None:
    """Every function in ``tree`` exists and gets an acceptable number of arguments."""
    all_functions()
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.get("type") == "function_expression":
            name, count = node["value"], len(node["children"])
            if name in FUNCTIONS:
                reason = FUNCTIONS[name].check_arity(count)
                if reason:
                    raise ExpressionProblem(reason)
            elif name in BUILTIN_NAMES:
                signature = jmespath.functions.Functions.FUNCTION_TABLE[name]["signature"]
                variadic = bool(signature) and signature[-1].get("variadic")
                if (count < len(signature)) if variadic else (count != len(signature)):
                    raise ExpressionProblem(f"{name}() takes {len(signature)} argument(s), got {count}")
            else:
                close = difflib.get_close_matches(name, [*FUNCTIONS, *BUILTIN_NAMES], n=1)
                hint = f"did you mean {close[0]}()? " if close else ""
                raise ExpressionProblem(f"unknown function {name}(); {hint}see mappings/README.md for the list")
        stack.extend(c for c in node.get("children", []) if isinstance(c, dict))


def truthy(value: Any) -> bool:
    return not (value is None or value is False or value == "" or value == [] or value == {})


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
    """An ordering comparison as JMESPath does it: numbers with numbers, strings with strings
    (so ISO dates compare: ``start >= '2026-08-01'``); anything else gives null."""

    def compare(left: Any, right: Any) -> Any:
        numbers = (int, float)
        if (isinstance(left, numbers) and not isinstance(left, bool)
                and isinstance(right, numbers) and not isinstance(right, bool)):
            return op(left, right)
        if isinstance(left, str) and isinstance(right, str):
            return op(left, right)
        return None

    return compare


def _index(value: Any, position: int) -> Any:
    if type(value) is not list:
        return None
    try:
        return value[position]
    except IndexError:
        return None


@dataclass
class Namespace:
    """The globals of the generated code: helpers, functions, fallback closures, constants."""

    context: Any = None
    names: dict[str, Any] = field(default_factory=dict)
    uses_root_fallback: bool = False

    def __post_init__(self) -> None:
        import operator

        all_functions()
        self.names.update(
            _truthy=truthy, _eq=_equals, _index=_index, _builtin=call_builtin, _ctx=self.context,
            _lt=_ordered(operator.lt), _le=_ordered(operator.le),
            _gt=_ordered(operator.gt), _ge=_ordered(operator.ge),
        )
        for name, spec in FUNCTIONS.items():
            self.names[f"_F_{name}"] = spec.func
        self._interpreter = TreeInterpreter(Options(custom_functions=KoppelFunctions(self.context)))

    def add(self, prefix: str, value: Any) -> str:
        name = f"_{prefix}{len(self.names)}"
        self.names[name] = value
        return name

    def fallback(self, node: dict) -> str:
        """A name for a closure that evaluates ``node`` with JMESPath's interpreter."""
        visit = self._interpreter.visit
        if _mentions_root(node):
            self.uses_root_fallback = True
        return self.add("sub", lambda value, _node=node: visit(_node, value))


def _mentions_root(node: dict) -> bool:
    if node.get("type") == "function_expression" and node.get("value") == "root":
        return True
    return any(_mentions_root(c) for c in node.get("children", []) if isinstance(c, dict))


class ExpressionCompiler:
    """Translates parsed JMESPath trees into Python expression source over a namespace."""

    def __init__(self, namespace: Namespace, root_var: str = "r") -> None:
        self.ns = namespace
        self.root_var = root_var
        #: paths from the record computed once per record into local variables (see hoisting)
        self.hoist: dict[tuple, str] = {}

    def source(self, text: str, cur: str, hoist: dict[tuple, str] | None = None) -> str:
        tree = parse(text)
        check_functions(tree)
        return self._with_hoist(hoist, self.node, tree, cur)

    def condition(self, text: str, cur: str, hoist: dict[tuple, str] | None = None) -> str:
        """Source giving the JMESPath truth of ``text`` as a Python bool."""
        tree = parse(text)
        check_functions(tree)
        code = self._with_hoist(hoist, self.node, tree, cur)
        return code if is_boolean(tree) else f"_truthy({code})"

    def _with_hoist(self, hoist: dict[tuple, str] | None, fn: Callable, *args: Any) -> str:
        saved, self.hoist = self.hoist, hoist or {}
        try:
            return fn(*args)
        finally:
            self.hoist = saved

    def node(self, node: dict, cur: str) -> str:
        kind = node["type"]
        if kind in ("field", "subexpression", "index_expression"):
            steps = chain_steps(node)
            if steps is not None:
                return self.chain(steps, cur)
        if kind not in _COMPILED:
            return f"{self.ns.fallback(node)}({cur})"
        return getattr(self, f"_{kind}")(node, cur)

    def chain(self, steps: tuple, cur: str, hoist: dict[tuple, str] | None = None) -> str:
        """Source for a path of field names (str) and list positions (int) from ``cur``."""
        hoist = self.hoist if hoist is None else hoist
        base, start = cur, 0
        if cur == self.root_var and hoist:
            for k in range(len(steps), 0, -1):
                if steps[:k] in hoist:
                    base, start = hoist[steps[:k]], k
                    break
        for step in steps[start:]:
            base = self._step(base, step)
        return base

    def _step(self, base: str, step: str | int) -> str:
        if isinstance(step, str):
            if base == self.root_var:  # the record itself is always an object (checked on entry)
                return f"{base}.get({step!r})"
            return f"(_t.get({step!r}) if type(_t := {base}) is dict else None)"
        if step >= 0:
            return f"(_t[{step}] if type(_t := {base}) is list and len(_t) > {step} else None)"
        return f"_index({base}, {step})"

    def literal(self, value: Any) -> str:
        # repr() of an infinite or NaN float is a bare name (inf, nan), not a Python literal:
        # `1e400` is infinity in JSON, so such values go to the namespace like lists and objects
        if isinstance(value, _SCALARS) and not (isinstance(value, float) and not math.isfinite(value)):
            return repr(value)
        return self.ns.add("k", value)

    def _subexpression(self, node: dict, cur: str) -> str:
        code = cur
        for child in node["children"]:
            code = self._wrap(child, code)
        return code

    def _wrap(self, child: dict, inner: str) -> str:
        # A non-field step reads its input more than once: bind it to a fresh name first.
        if child["type"] in ("index_expression", "literal", "current", "field"):
            return self.node(child, inner)
        name = self.ns.add("c", None)
        return f"((lambda {name}: {self.node(child, name)})({inner}))"

    def _index_expression(self, node: dict, cur: str) -> str:
        # ``x[0][1]`` is one node with three children: x, then each index applied in turn
        left, *indexes = node["children"]
        if any(i["type"] != "index" for i in indexes):
            return f"{self.ns.fallback(node)}({cur})"
        base = self.node(left, cur)
        for index in indexes:
            base = self._step(base, index["value"])
        return base

    def _literal(self, node: dict, cur: str) -> str:
        return self.literal(node["value"])

    def _current(self, node: dict, cur: str) -> str:
        return cur

    def _comparator(self, node: dict, cur: str) -> str:
        left_node, right_node = node["children"]
        left, right = self.node(left_node, cur), self.node(right_node, cur)
        op = node["value"]
        if op in ("eq", "ne"):
            if _null_literal(left_node) or _null_literal(right_node):
                return f"({left} {'is' if op == 'eq' else 'is not'} {right})"
            if _plain_literal(left_node) or _plain_literal(right_node):
                # a string or null literal cannot meet JMESPath's 0/1 versus false/true special case
                return f"({left} {'==' if op == 'eq' else '!='} {right})"
            return f"_eq({left}, {right})" if op == "eq" else f"(not _eq({left}, {right}))"
        return f"_{ {'lt': 'lt', 'lte': 'le', 'gt': 'gt', 'gte': 'ge'}[op]}({left}, {right})"

    def _and_expression(self, node: dict, cur: str) -> str:
        left, right = (self.node(c, cur) for c in node["children"])
        return f"({right} if _truthy(_w := {left}) else _w)"

    def _or_expression(self, node: dict, cur: str) -> str:
        left, right = (self.node(c, cur) for c in node["children"])
        return f"(_w if _truthy(_w := {left}) else {right})"

    def _not_expression(self, node: dict, cur: str) -> str:
        return f"(not _truthy({self.node(node['children'][0], cur)}))"

    def _function_expression(self, node: dict, cur: str) -> str:
        name = node["value"]
        children = node["children"]
        if any(c["type"] == "expref" for c in children):
            return f"{self.ns.fallback(node)}({cur})"
        if name == "root" and not children:
            return self.root_var
        if name == "lookup" and len(children) >= 2 and children[1]["type"] == "literal":
            self._check_valuemap(children[1]["value"])
        args = [self.node(c, cur) for c in children]
        spec = FUNCTIONS.get(name)
        if spec is None:
            return f"_builtin({name!r}, [{', '.join(args)}])"
        if spec.contextual:
            args.insert(0, "_ctx")
        return f"_F_{name}({', '.join(args)})"


    def _check_valuemap(self, name: Any) -> None:
        """A literal value-map name is looked up now, so a typo fails at load, not per record."""
        if self.ns.context is None:
            return
        from runtime.mapping.functions import FunctionError

        try:
            self.ns.context.valuemap(str(name))
        except FunctionError as exc:
            raise ExpressionProblem(str(exc)) from None


def chain_steps(node: dict) -> tuple | None:
    """``a.b[0].c`` → ``('a', 'b', 0, 'c')``; None when the node is not such a plain path."""
    kind = node["type"]
    if kind == "field":
        return (node["value"],)
    if kind == "index_expression":
        left, *indexes = node["children"]
        if any(i["type"] != "index" for i in indexes):
            return None
        steps = chain_steps(left)
        return None if steps is None else (*steps, *(i["value"] for i in indexes))
    if kind == "subexpression":
        out: tuple = ()
        for child in node["children"]:
            steps = chain_steps(child)
            if steps is None:
                return None
            out += steps
        return out
    return None


_SAME_CURRENT = frozenset({"comparator", "and_expression", "or_expression", "not_expression", "function_expression"})


def root_chains(tree: dict) -> list[tuple]:
    """The plain paths an expression reads from its current value (not inside projections)."""
    steps = chain_steps(tree)  # None unless the tree is a plain path
    if steps is not None:
        return [steps]
    if tree["type"] not in _SAME_CURRENT:
        return []
    if tree["type"] == "function_expression" and any(c["type"] == "expref" for c in tree["children"]):
        return []
    return [chain for child in tree["children"] for chain in root_chains(child)]


def _null_literal(node: dict) -> bool:
    return node["type"] == "literal" and node["value"] is None


def is_boolean(tree: dict) -> bool:
    """True when the expression always gives true or false, so no truth test is needed."""
    if tree["type"] == "not_expression":
        return True
    return tree["type"] == "comparator" and tree["value"] in ("eq", "ne")


def _plain_literal(node: dict) -> bool:
    return node["type"] == "literal" and (node["value"] is None or isinstance(node["value"], str))
