"""Static checks of a ``sis`` source or target spec beyond its schema: the object exists, the
includes name real relations, the key and scope fields are columns of the object."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel

from runtime.plugin import PluginContext


def check_spec(spec: BaseModel, ctx: PluginContext) -> list[tuple[tuple, str]]:
    from runtime.sis import shape
    from runtime.sis.relations import RELATIONS, resolve

    # the columns without building the ORM; a project's declared objects included
    objects = shape.columns(getattr(ctx, "project_root", None))
    problems: list[tuple[tuple, str]] = []
    object_type = getattr(spec, "object", None)
    if object_type not in objects:
        return [(("object",), f"unknown SIS object '{object_type}'; known: {', '.join(sorted(objects))}")]
    columns = objects[object_type]
    for index, include in enumerate(getattr(spec, "include", None) or []):
        try:
            resolve(object_type, include)
        except KeyError as exc:
            problems.append((("include", index), exc.args[0]))
    for index, name in enumerate(getattr(spec, "key", None) or []):
        if name not in columns:
            problems.append((("key", index), f"'{name}' is not a field of {object_type}"))
    many = {name for name, relation in RELATIONS.get(object_type, {}).items() if relation.many}
    for index, name in enumerate(getattr(spec, "replace_children", None) or []):
        if name not in many:
            problems.append((("replace_children", index), f"'{name}' is not a list relation of {object_type}; "
                             f"known: {', '.join(sorted(many)) or 'none'}"))
    operation = getattr(spec, "operation", None)
    scope = getattr(spec, "replace_scope", None)
    if scope is not None and scope not in columns:
        problems.append((("replace_scope",), f"'{scope}' is not a field of {object_type}"))
    if operation == "replace" and scope is None:
        problems.append((("replace_scope",), "operation 'replace' needs replace_scope (e.g. date)"))
    return problems + where_fields(spec, objects)


def target_fields(spec: BaseModel, ctx: PluginContext) -> tuple[str, dict[str, Any]] | None:
    """What a record written to the SIS object may hold: its columns, its many relations (lists
    of child records, each with the child's own fields) and its plural (several rows of itself)."""
    from runtime.sis import shape
    from runtime.sis.relations import RELATIONS

    objects = shape.columns(getattr(ctx, "project_root", None))
    object_type = getattr(spec, "object", None)
    if object_type not in objects:
        return None  # check_spec reports the unknown object

    def columns(name: str) -> dict[str, Any]:
        return dict.fromkeys(objects[name])

    fields = columns(object_type)
    for name, relation in RELATIONS.get(object_type, {}).items():
        if relation.many and relation.target in objects:
            fields[name] = columns(relation.target)
    fields[f"{object_type}s"] = columns(object_type)  # several rows of itself (children.rows_field)
    return f"SIS object '{object_type}'", fields


def where_fields(spec: BaseModel, objects: dict[str, tuple[str, ...]]) -> list[tuple[tuple, str]]:
    """The fields a source's ``where`` reads from the record: each must be a column of the object
    or one of its includes (a typo there would silently filter out every record)."""
    object_type = getattr(spec, "object", None)
    where = getattr(spec, "where", None)
    if object_type not in objects or not where:
        return []
    import jmespath

    try:
        tree = jmespath.compile(str(where)).parsed
    except jmespath.exceptions.JMESPathError:
        return []  # the expression check reports it
    known = set(objects[object_type])
    known |= {include.split(".", 1)[0] for include in getattr(spec, "include", None) or []}
    known |= {"null", "true", "false"}  # written bare they are fields that are never there: null, as meant
    problems = []
    for name in sorted(set(root_fields(tree)) - known):
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        problems.append((("where",), f"'{name}' is not a field of {object_type} or its includes{hint}"))
    return problems


def root_fields(node: dict) -> list[str]:
    """The field names a JMESPath expression looks up on the record itself (not inside a
    projection or filter, where they refer to the list's items)."""
    kind, children = node.get("type"), [c for c in node.get("children", []) if isinstance(c, dict)]
    if kind == "field":
        return [node["value"]]
    if kind in ("subexpression", "index_expression", "projection", "value_projection", "filter_projection",
                "flatten", "pipe"):
        return root_fields(children[0]) if children else []
    if kind in ("literal", "current", "expref", "identity"):
        return []
    return [name for child in children for name in root_fields(child)]
