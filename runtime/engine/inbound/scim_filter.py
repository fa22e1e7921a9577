"""SCIM filters (RFC 7644 §3.4.2.2), the part provisioning clients use.

Supported: ``attrPath op value`` with ``eq ne co sw ew gt ge lt le`` and ``attrPath pr``, joined
with ``and`` / ``or``, ``not (...)`` and parentheses; an attribute path may carry a sub-attribute
(``name.familyName``, ``emails.value``) or the schema URN (``urn:...:enterprise:2.0:User:employeeNumber``).
String comparisons ignore case (the attributes Koppel serves are all ``caseExact: false``);
a multi-valued attribute matches when one of its values does. Anything else is ``invalidFilter``.

``parse()`` gives a predicate over a resource dict and, for the directory's SQL, the plain
``attr eq "value"`` clauses that every match must satisfy (``required_equals``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runtime.engine.inbound.body import Refusal

_TOKEN = re.compile(r'\s*(?:(\()|(\))|("(?:[^"\\]|\\.)*")|([^\s()"]+))')
_OPS = {"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"}
Predicate = Callable[[dict[str, Any]], bool]


def bad(detail: str) -> Refusal:
    return Refusal(400, detail, scim_type="invalidFilter")


@dataclass
class Filter:
    matches: Predicate
    required_equals: dict[str, Any]  # lower-cased attribute path → value every match has


def parse(text: str) -> Filter:
    if len(text) > 1000:
        raise bad("the filter is longer than 1000 characters")
    tokens = _tokenise(text)
    parser = _Parser(tokens)
    predicate, equals = parser.expression()
    if parser.pos != len(tokens):
        raise bad(f"unexpected '{tokens[parser.pos][1]}' in the filter")
    return Filter(predicate, equals)


def _tokenise(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise bad(f"cannot read the filter at character {pos + 1}")
        pos = m.end()
        kind = "(" if m.group(1) else ")" if m.group(2) else "str" if m.group(3) else "word"
        tokens.append((kind, m.group(m.lastindex or 0)))
    if not tokens:
        raise bad("the filter is empty")
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.pos, self.depth = tokens, 0, 0

    def peek(self, lowered: bool = True) -> str | None:
        if self.pos >= len(self.tokens):
            return None
        kind, text = self.tokens[self.pos]
        return text.lower() if lowered and kind == "word" else text

    def take(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise bad("the filter ends too soon")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def expression(self) -> tuple[Predicate, dict[str, Any]]:
        left, equals = self.term()
        while self.peek() == "or":
            self.take()
            right, _ = self.term()
            left, equals = _either(left, right), {}
        return left, equals

    def term(self) -> tuple[Predicate, dict[str, Any]]:
        left, equals = self.factor()
        while self.peek() == "and":
            self.take()
            right, more = self.factor()
            left, equals = _both(left, right), {**equals, **more}
        return left, equals

    def factor(self) -> tuple[Predicate, dict[str, Any]]:
        self.depth += 1
        if self.depth > 20:
            raise bad("the filter nests deeper than 20 levels")
        try:
            if self.peek() == "not":
                self.take()
                inner, _ = self.group()
                return (lambda r: not inner(r)), {}
            if self.peek() == "(":
                return self.group()
            return self.comparison()
        finally:
            self.depth -= 1

    def group(self) -> tuple[Predicate, dict[str, Any]]:
        if self.take()[0] != "(":
            raise bad("expected '(' in the filter")
        inner = self.expression()
        if self.take()[0] != ")":
            raise bad("expected ')' in the filter")
        return inner

    def comparison(self) -> tuple[Predicate, dict[str, Any]]:
        kind, path = self.take()
        if kind != "word":
            raise bad(f"expected an attribute name, found '{path}'")
        kind, op = self.take()
        op = op.lower()
        if kind != "word" or op not in _OPS:
            raise bad(f"unknown filter operator '{op}'")
        path = _strip_urn(path)
        if op == "pr":
            return (lambda r: any(v not in (None, "", [], {}) for v in values(r, path))), {}
        value = _literal(self.take())
        test = _COMPARE[op]
        predicate = lambda r: any(test(_fold(v), _fold(value)) for v in values(r, path))
        return predicate, ({path.lower(): value} if op == "eq" else {})


def _either(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) or b(r)


def _both(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) and b(r)


def _strip_urn(path: str) -> str:
    """``urn:...:User:userName`` → ``userName``; the enterprise URN stays a prefix ``urn:...:User:x``."""
    core = ("urn:ietf:params:scim:schemas:core:2.0:user:", "urn:ietf:params:scim:schemas:core:2.0:group:")
    lowered = path.lower()
    for prefix in core:
        if lowered.startswith(prefix):
            return path[len(prefix):]
    return path


def _literal(token: tuple[str, str]) -> Any:
    kind, text = token
    if kind == "str":
        import json

        try:
            return json.loads(text)
        except ValueError:
            raise bad(f"cannot read the string {text[:40]} in the filter") from None
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        raise bad(f"'{text}' is not a filter value (strings are quoted)") from None


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _ordered(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        try:
            return a is not None and b is not None and test(a, b)
        except TypeError:
            return False

    return compare


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "co": lambda a, b: isinstance(a, str) and isinstance(b, str) and b in a,
    "sw": lambda a, b: isinstance(a, str) and isinstance(b, str) and a.startswith(b),
    "ew": lambda a, b: isinstance(a, str) and isinstance(b, str) and a.endswith(b),
    "gt": _ordered(lambda a, b: a > b), "ge": _ordered(lambda a, b: a >= b),
    "lt": _ordered(lambda a, b: a < b), "le": _ordered(lambda a, b: a <= b),
}


def values(resource: dict[str, Any], path: str) -> list[Any]:
    """Every value at ``path`` (``a``, ``a.b``, ``urn:...:a``), lists flattened, names case-insensitive."""
    current: list[Any] = [resource]
    urn, _, rest = path.rpartition(":") if path.lower().startswith("urn:") else ("", "", path)
    if urn:
        current = [_child(resource, urn)]
    for part in rest.split("."):
        found: list[Any] = []
        for item in current:
            value = _child(item, part)
            found.extend(value if isinstance(value, list) else [value])
        current = found
    return current or [None]


def _child(item: Any, name: str) -> Any:
    if not isinstance(item, dict):
        return None
    lowered = name.lower()
    return next((v for k, v in item.items() if k.lower() == lowered), None)
