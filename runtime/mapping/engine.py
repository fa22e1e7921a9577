"""A mapping file compiled into one Python function, plus a slow twin that names the failing field.

The fast function is generated source: the output is a dict literal (or, with ``when`` or
``omit_null``, a few statements), each field's expression inlined from the expression compiler.
It is what runs for every record. When it raises, the record is evaluated again by the slow
path, which walks the same compiled expressions field by field, so the MappingError carries the
output field path (``enrollments[2].niveau``) and a reason that names types and value maps,
never the input value.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.diagnostics import dotted
from runtime.errors import ConfigError, MappingError
from runtime.mapping import valuemaps
from runtime.mapping.compiler import ExpressionCompiler, ExpressionProblem, Namespace, parse, root_chains, truthy
from runtime.mapping.functions import FunctionError, safe_reason
from runtime.mapping.model import output_kind

_SCALARS = (str, int, float, bool, type(None))


class MappingContext:
    """What expressions may reach besides the record: the project's value maps, the root record."""

    def __init__(self, project_root: Path | None, maps: dict[str, valuemaps.ValueMap] | None = None) -> None:
        self.project_root = project_root
        self.maps: dict[str, valuemaps.ValueMap] = dict(maps or {})
        self.root: ContextVar[Any] = ContextVar("koppel_mapping_root", default=None)

    def valuemap(self, name: str) -> valuemaps.ValueMap:
        found = self.maps.get(name)
        if found is None:
            if self.project_root is None:
                raise FunctionError(f"unknown value map '{name}'")
            try:
                found = self.maps[name] = valuemaps.load(self.project_root, name)
            except ConfigError as exc:
                raise FunctionError(str(exc)) from exc
        return found

    def current_root(self) -> Any:
        return self.root.get()


class RequiredMissing(FunctionError):
    pass


def _required(value: Any) -> Any:
    if value is None:
        raise RequiredMissing("required value is missing (null)")
    return value


def _as_list(value: Any) -> list:
    """The items of ``each``: null → none; a single object (as SOAP gives one element) → one."""
    if value is None:
        return []
    return value if type(value) is list else [value]


class Problem(Exception):
    """A compile problem at ``loc`` (a path into the mapping file) with a message."""

    def __init__(self, loc: tuple, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message
        self.column = column


# -- the slow twin: plain data evaluated by a small interpreter -----------------------------------

@dataclass
class ExprNode:
    fn: Callable[[Any, Any], Any]


@dataclass
class ConstNode:
    value: Any


@dataclass
class ObjectNode:
    fields: list[tuple[str, Any, Callable | None]]  # key, node, when
    omit_null: bool


@dataclass
class ListNode:
    items: list
    #: per entry, its ``when`` (None: always there); an entry whose when is false is left out
    whens: list = field(default_factory=list)


@dataclass
class EachNode:
    each: Callable
    item: Any
    where: Callable | None


def evaluate(node: Any, cur: Any, root: Any, path: tuple) -> Any:
    if isinstance(node, ExprNode):
        try:
            return node.fn(cur, root)
        except (MappingError, ConfigError):
            raise  # already this record's error, or a configuration problem that stops the run
        except Exception as exc:  # noqa: BLE001 - every failure becomes this record's error
            raise MappingError(safe_reason(exc), path=dotted(path)) from None
    if isinstance(node, ConstNode):
        return copy.deepcopy(node.value)
    if isinstance(node, ListNode):
        whens = node.whens or [None] * len(node.items)
        return [evaluate(item, cur, root, (*path, i)) for i, (item, when) in enumerate(zip(node.items, whens))
                if when is None or truthy(evaluate(ExprNode(when), cur, root, (*path, i)))]
    if isinstance(node, ObjectNode):
        out = {}
        for key, child, when in node.fields:
            if when is not None and not truthy(evaluate(ExprNode(when), cur, root, (*path, key))):
                continue
            value = evaluate(child, cur, root, (*path, key))
            if value is not None or not node.omit_null:
                out[key] = value
        return out
    items = evaluate(ExprNode(node.each), cur, root, path)
    out_list: list[Any] = []
    for i, item in enumerate(_as_list(items)):
        if node.where is not None and not truthy(evaluate(ExprNode(node.where), item, root, (*path, i))):
            continue
        out_list.append(evaluate(node.item, item, root, (*path, len(out_list))))
    return out_list


# -- the builder: source for the fast function, nodes for the slow one ----------------------------

@dataclass
class Built:
    fast: Callable[[dict], Any]
    slow: Callable[[dict], Any]
    source: str
    problems: list[Problem] = field(default_factory=list)


def _unbuilt(*_args: Any) -> Any:
    """What a check-only Builder gives in place of a compiled function: never meant to run."""
    raise RuntimeError("this mapping was only checked (Builder(check_only=True)), not compiled")


def _has_when(spec: Any) -> bool:
    return isinstance(spec, dict) and output_kind(spec) != "nested" and spec.get("when") is not None


class Builder:
    """Source and slow twin of a mapping. ``collect``: gather every Problem instead of raising the
    first. ``check_only`` (``koppel validate``): every expression is parsed and checked exactly as
    for a run, once, but nothing is eval'd or compiled and hoisting is not planned (it only shapes
    the code): the Built has the problems and the source, and functions that refuse to run."""

    def __init__(self, context: MappingContext, collect: bool = False, check_only: bool = False) -> None:
        self.context = context
        self.check_only = check_only
        self.ns = Namespace(context)
        self.ns.names.update(
            _required=_required, _as_list=_as_list, _copy=copy.deepcopy, _truthy=truthy, _MISS=valuemaps.MISSING
        )
        self.ec = ExpressionCompiler(self.ns, "r")
        self.defs: list[str] = []
        self.collect = collect
        self.problems: list[Problem] = []
        #: paths read from the record by several fields, computed once into locals of _map
        self.hoist: dict[tuple, str] = {}
        #: True while generating code that lands in _map's own body (where the locals exist)
        self.in_map = True

    # expressions ---------------------------------------------------------------------------
    def _hoist_for(self, cur: str) -> dict[tuple, str] | None:
        return self.hoist if self.in_map and cur == "r" else None

    def expr(self, text: Any, cur: str, loc: tuple) -> tuple[str, Callable]:
        """Source of ``text`` with current value ``cur`` (``r`` or ``c``), and its slow twin."""
        try:
            plain = self.ec.source(text, cur)
            if self.check_only:
                return plain, _unbuilt
            code = self.ec.source(text, cur, self._hoist_for(cur)) if self._hoist_for(cur) else plain
        except ExpressionProblem as exc:
            return self._fail(Problem(loc, str(exc), exc.column))
        fn = eval(f"lambda c, r: {plain}", self.ns.names)  # noqa: S307 - our own generated source
        return code, fn

    def condition(self, text: Any, cur: str, loc: tuple) -> tuple[str, Callable]:
        """Like expr, for a when/where: the source gives a bool, the slow twin the raw value."""
        try:
            code = self.ec.condition(text, cur, self._hoist_for(cur))
        except ExpressionProblem as exc:
            return self._fail(Problem(loc, str(exc), exc.column))
        if self.check_only:  # the slow twin would parse the same text again, for nothing
            return code, _unbuilt
        return code, self.expr(text, cur, loc)[1]

    def _fail(self, problem: Problem) -> tuple[str, Callable]:
        if not self.collect:
            raise problem
        self.problems.append(problem)
        return "None", lambda c, r: None

    def literal(self, value: Any) -> str:
        if isinstance(value, _SCALARS):
            return self.ec.literal(value)
        return f"_copy({self.ns.add('k', value)})"

    # output values -------------------------------------------------------------------------
    def value(self, spec: Any, cur: str, loc: tuple, omit_null: bool) -> tuple[str, Any]:
        kind = output_kind(spec)
        if kind == "expression":
            code, fn = self.expr(spec, cur, loc)
            return code, ExprNode(fn)
        if kind == "const":
            return self.literal(spec["const"]), ConstNode(spec["const"])
        if kind == "expr":
            return self._expr_field(spec, cur, loc)
        if kind == "each":
            return self._each(spec, cur, loc, omit_null)
        if kind == "list":
            built = [self.value(item, cur, (*loc, i), omit_null) for i, item in enumerate(spec)]
            whens = [self.condition(item["when"], cur, (*loc, i, "when")) if _has_when(item) else None
                     for i, item in enumerate(spec)]
            if not any(whens):
                return "[" + ", ".join(code for code, _ in built) + "]", ListNode([node for _, node in built])
            # an entry with a false ``when`` is left out, as a field of an object is
            parts = [f"*(({code},) if {when[0]} else ())" if when else code for (code, _), when in zip(built, whens)]
            return "[" + ", ".join(parts) + "]", ListNode([node for _, node in built], [w[1] if w else None for w in whens])
        fields = spec["object"] if kind == "object" else spec
        if not isinstance(fields, dict):
            return self._fail(Problem((*loc, "object"), "object: expects a mapping of field names"))[0], ConstNode(None)
        return self._object(fields, cur, loc + (("object",) if kind == "object" else ()), omit_null)

    def _expr_field(self, spec: dict, cur: str, loc: tuple) -> tuple[str, Any]:
        code, fn = self.expr(spec["expr"], cur, (*loc, "expr"))
        name = spec.get("valuemap")
        if name is not None:
            lookup = self._lookup(name, spec, loc)
            slow_name = self.ns.add("vm", lookup)
            codes = getattr(lookup, "codes", None)
            if codes is not None:
                # the common case inline: a text code found in the map; anything else (a number, an
                # unknown code, null) takes the full lookup with its fallback rules
                table = self.ns.add("vmd", codes)
                code = (f"(_m if type(_x := {code}) is str and (_m := {table}.get(_x, _MISS)) is not _MISS "
                        f"else {slow_name}(_x))")
            else:
                code = f"{slow_name}({code})"
            inner = fn
            fn = lambda c, r, _f=inner, _l=lookup: _l(_f(c, r))  # noqa: E731
        if spec.get("default") is not None:
            default = spec["default"]
            code = f"(_v if (_v := {code}) is not None else {self.literal(default)})"
            inner = fn
            fn = lambda c, r, _f=inner, _d=default: copy.deepcopy(_d) if (v := _f(c, r)) is None else v  # noqa: E731
        if spec.get("required"):
            code = f"_required({code})"
            inner = fn
            fn = lambda c, r, _f=inner: _required(_f(c, r))  # noqa: E731
        return code, ExprNode(fn)

    def _lookup(self, name: str, spec: dict, loc: tuple) -> Callable[[Any], Any]:
        try:
            vmap = self.context.valuemap(name)
        except FunctionError as exc:
            self._fail(Problem((*loc, "valuemap"), str(exc)))
            return lambda v: v
        fallback = spec.get("fallback")
        default = spec["default"] if spec.get("default") is not None else valuemaps.MISSING
        if fallback == "default" and default is valuemaps.MISSING and vmap.default is valuemaps.MISSING:
            self._fail(Problem((*loc, "fallback"), f"fallback: default, but neither this field nor value map '{name}' has a default"))
        def lookup(value: Any) -> Any:
            return vmap.lookup(value, fallback, default)

        lookup.codes = vmap.codes  # type: ignore[attr-defined]
        return lookup

    def _each(self, spec: dict, cur: str, loc: tuple, omit_null: bool) -> tuple[str, Any]:
        each_code, each_fn = self.expr(spec["each"], cur, (*loc, "each"))
        where_code, where_fn = ("True", None)
        if "output" not in spec:
            self._fail(Problem(loc, "each: needs an output (the entry per item)"))
            return "[]", ConstNode([])
        saved, self.in_map = self.in_map, False  # the items are mapped in a function of their own
        try:
            if spec.get("where") is not None:
                where_code, where_fn = self.condition(spec["where"], "c", (*loc, "where"))
            item_code, item_node = self.value(spec["output"], "c", (*loc, "output"), omit_null)
        finally:
            self.in_map = saved
        fname = self.ns.add("each", None)
        self.defs.append(
            f"def {fname}(_items, r):\n"
            f"    _out = []\n"
            f"    for c in _as_list(_items):\n"
            f"        if {where_code}:\n"
            f"            _out.append({item_code})\n"
            f"    return _out\n"
        )
        return f"{fname}({each_code}, r)", EachNode(each_fn, item_node, where_fn)

    def _object(self, fields: dict, cur: str, loc: tuple, omit_null: bool, top: bool = False) -> tuple[str, Any]:
        """A dict literal, or (with ``when`` or ``omit_null``) statements: in _map itself for
        the top-level object (returned as source lines joined by newlines), else in a function."""
        statements = omit_null or any(_has_when(spec) for spec in fields.values())
        saved, self.in_map = self.in_map, self.in_map and (top or not statements)
        parts: list[tuple[str, str, str | None]] = []
        nodes: list[tuple[str, Any, Callable | None]] = []
        try:
            for key, spec in fields.items():
                if not isinstance(key, str):
                    self._fail(Problem((*loc, key), "a target field name must be text"))
                    continue
                when_code, when_fn = None, None
                if _has_when(spec):
                    when_code, when_fn = self.condition(spec["when"], cur, (*loc, key, "when"))
                code, node = self.value(spec, cur, (*loc, key), omit_null)
                parts.append((key, code, when_code))
                nodes.append((key, node, when_fn))
        finally:
            self.in_map = saved
        node = ObjectNode(nodes, omit_null)
        if not statements:
            return "{" + ", ".join(f"{k!r}: {code}" for k, code, _ in parts) + "}", node
        lines = ["_o = {}"]
        for key, code, when in parts:
            indent = ""
            if when is not None:
                lines.append(f"if {when}:")
                indent = "    "
            if omit_null:
                lines.append(f"{indent}if (_v := {code}) is not None:")
                lines.append(f"{indent}    _o[{key!r}] = _v")
            else:
                lines.append(f"{indent}_o[{key!r}] = {code}")
        lines.append("return _o")
        if top:
            return "\n".join(lines), node
        fname = self.ns.add("obj", None)
        self.defs.append(f"def {fname}(c, r):\n" + "".join(f"    {line}\n" for line in lines))
        return f"{fname}({cur}, r)", node

    # hoisting: a path several fields read is computed once per record -----------------------
    def _plan_hoist(self, data: dict) -> None:
        counts: dict[tuple, int] = {}

        def count(text: Any) -> None:
            try:
                tree = parse(text)
            except ExpressionProblem:
                return
            for chain in root_chains(tree):
                for k in range(1, len(chain) + 1):
                    counts[chain[:k]] = counts.get(chain[:k], 0) + 1

        def visit(spec: Any) -> None:
            kind = output_kind(spec)
            if isinstance(spec, dict) and kind != "nested":
                count(spec.get("when"))
            if kind == "expression":
                count(spec)
            elif kind == "expr":
                count(spec.get("expr"))
            elif kind == "each":
                count(spec.get("each"))
            elif kind == "list":
                for item in spec:
                    visit(item)
            elif kind in ("object", "nested"):
                fields = spec.get("object") if kind == "object" else spec
                if isinstance(fields, dict) and not any(_has_when(f) for f in fields.values()) and not data.get("omit_null"):
                    for child in fields.values():
                        visit(child)

        count(data.get("where"))
        for spec in (data.get("output") or {}).values() if isinstance(data.get("output"), dict) else ():
            visit(spec)
        shared = {path for path, n in counts.items() if n >= 2}
        # a path read only through one longer shared path is computed inside that one
        shared = {p for p in shared if not any(q[:-1] == p and counts[q] == counts[p] for q in shared)}
        for i, path in enumerate(sorted(shared, key=len)):
            self.hoist[path] = f"_h{i}"

    def _hoist_lines(self) -> list[str]:
        lines: list[str] = []
        known: dict[Any, Any] = {}
        for path, name in sorted(self.hoist.items(), key=lambda item: len(item[0])):
            lines.append(f"{name} = {self.ec.chain(path, 'r', known)}")
            known[path] = name
        return lines

    # the whole mapping -----------------------------------------------------------------------
    def build(self, data: dict) -> Built:
        omit_null = bool(data.get("omit_null"))
        if not self.check_only:
            self._plan_hoist(data)
        where_code, where_fn = None, None
        if data.get("where") is not None:
            where_code, where_fn = self.condition(data["where"], "r", ("where",))
        output = data.get("output")
        if not isinstance(output, dict):
            self._fail(Problem(("output",), "output: expects a mapping of target field names"))
            output = {}
        body_code, body_node = self._object(output, "r", ("output",), omit_null, top=True)
        body = self._hoist_lines()
        if where_code is not None:
            body += [f"if not {where_code}:", "    return None"]
        body += body_code.split("\n") if body_code.startswith("_o = {}") else [f"return {body_code}"]
        if self.ns.uses_root_fallback:
            body = ["_token = _ctx.root.set(r)", "try:", *("    " + line for line in body),
                    "finally:", "    _ctx.root.reset(_token)"]
        lines = ["def _map(r):", "    if type(r) is not dict:", "        raise TypeError('record')"]
        lines += ["    " + line for line in body]
        source = "".join(self.defs) + "\n".join(lines) + "\n"
        if self.check_only:
            return Built(_unbuilt, _unbuilt, source, self.problems)
        exec(compile(source, "<mapping>", "exec"), self.ns.names)  # noqa: S102 - our own generated source
        fast = self.ns.names["_map"]
        context = self.context

        def slow(record: dict) -> Any:
            if not isinstance(record, dict):
                raise MappingError("the source record is not an object", path="")
            token = context.root.set(record)
            try:
                if where_fn is not None and not truthy(evaluate(ExprNode(where_fn), record, record, ("where",))):
                    return None
                return evaluate(body_node, record, record, ())
            finally:
                context.root.reset(token)

        return Built(fast, slow, source, self.problems)
