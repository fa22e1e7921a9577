"""Static checks of a ``sis`` source or target spec beyond its schema: the object exists, the
includes name real relations, the key and scope fields are columns of the object."""

from __future__ import annotations

from pydantic import BaseModel

from runtime.plugin import PluginContext


def check_spec(spec: BaseModel, ctx: PluginContext) -> list[tuple[tuple, str]]:
    from runtime.sis.models import OBJECTS
    from runtime.sis.relations import RELATIONS, resolve

    problems: list[tuple[tuple, str]] = []
    object_type = getattr(spec, "object", None)
    if object_type not in OBJECTS:
        return [(("object",), f"unknown SIS object '{object_type}'; known: {', '.join(sorted(OBJECTS))}")]
    columns = OBJECTS[object_type].__table__.c
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
    return problems
