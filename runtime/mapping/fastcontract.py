"""A contract check compiled to Python once per mapping (fastjsonschema), for the records that fit.

Checking every record with jsonschema's interpreter cost 36-40× the mapping itself. Most records
fit their contract, so the compiled check answers "fits" at a fraction of that; a record it
refuses is checked again by jsonschema, which stays the authority and names the field path and
the reason (``contract.describe``). The compiled check may only ever be *stricter* than
jsonschema, never more lenient, so:

- the formats jsonschema checks are checked with jsonschema's own functions (fastjsonschema's
  regexes accept 2026-02-30 as a date; jsonschema does not);
- a schema that uses a keyword fastjsonschema (draft 7) does not know — prefixItems,
  unevaluatedProperties, dependentRequired, ... — gets no compiled check at all (an unknown
  keyword would be ignored, i.e. accepted);
- defaults are never filled in (fastjsonschema's ``use_default`` would change the record).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

log = logging.getLogger("koppel.mapping")

#: draft 2019-09/2020-12 keywords fastjsonschema does not implement (it would accept anything)
UNKNOWN_TO_FAST = frozenset({
    "prefixItems", "unevaluatedProperties", "unevaluatedItems", "dependentRequired", "dependentSchemas",
    "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor", "minContains", "maxContains",
    "contentSchema",
})


def compile_fast(schema: dict, document: Any = None, uri: str | None = None,
                 format_checker: Any = None) -> Callable[[Any], bool] | None:
    """A function ``fits(record) -> bool`` (True only when jsonschema would accept too), or None
    when this schema cannot be compiled safely. ``document``/``uri``: where ``$ref``s point (an
    OpenAPI document)."""
    if os.environ.get("KOPPEL_NO_FAST_CONTRACT") or _uses_unknown_keywords(document if document is not None else schema):
        return None  # the env switch is for bench/bench_contract.py's baseline
    import fastjsonschema

    definition = {k: v for k, v in schema.items() if k != "$schema"}  # fastjsonschema reads draft 7
    if document is not None and uri and str(definition.get("$ref", "")).startswith(uri + "#"):
        # fastjsonschema cannot resolve a urn: base; the same $ref relative to the document can
        definition = {**document, "$ref": definition["$ref"][len(uri):]}
    formats = {name: _same_as_jsonschema(func, raises)
               for name, (func, raises) in (format_checker.checkers.items() if format_checker is not None else ())}
    try:
        # detailed_exceptions stays on: fastjsonschema 2.22's code for `const` fails to compile without
        check = fastjsonschema.compile(definition, formats=formats, use_default=False)
    except Exception as exc:  # noqa: BLE001 - any schema it cannot compile: the interpreter checks alone
        log.debug("contract not compiled (%s); jsonschema checks every record", type(exc).__name__)
        return None

    def fits(record: Any) -> bool:
        try:
            check(record)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return fits


def _same_as_jsonschema(func: Callable[[Any], Any], raises: Any) -> Callable[[Any], bool]:
    """jsonschema's own check of one format, as FormatChecker.conforms calls it."""

    def conforms(value: Any) -> bool:
        try:
            return bool(func(value))
        except raises:
            return False

    return conforms


def _uses_unknown_keywords(node: Any, seen: set[int] | None = None) -> bool:
    seen = set() if seen is None else seen
    if isinstance(node, (dict, list)):
        if id(node) in seen:
            return False
        seen.add(id(node))
    if isinstance(node, dict):
        if UNKNOWN_TO_FAST.intersection(node):
            return True
        return any(_uses_unknown_keywords(v, seen) for v in node.values())
    if isinstance(node, list):
        return any(_uses_unknown_keywords(v, seen) for v in node)
    return False
