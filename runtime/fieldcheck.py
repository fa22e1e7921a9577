"""``koppel validate``: the fields a mapping writes must exist where the target stores them.

A target plugin may declare what a record written through one of its specs can hold
(``Plugin.fields``: the SIS store lists its objects' columns and child lists). Each mapping that
feeds such a target is read with its positions, and every output field the target does not know
is reported at its line in the mapping file, with a did-you-mean, before anything runs, instead
of as a dead letter of every record at the first ``koppel run``.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from runtime.diagnostics import Diagnostic, relative
from runtime.plugin import PluginContext
from runtime.registry import Registry


def check_target_fields(project, registry: Registry) -> None:
    seen: set[tuple[str, str]] = set()
    for _number, interface in sorted(project.interfaces.items()):
        for spec, mapping in _fed_targets(interface):
            plugin = registry.get(spec.type)
            lister = getattr(plugin, "fields", None)
            if lister is None or not mapping:
                continue
            ctx = PluginContext(environment="sandbox", project_root=project.root,
                                system_name=getattr(spec, "system", None), interface_id=interface.id)
            declared = lister(spec, ctx)
            if declared is None:
                continue
            label, fields = declared
            if (mapping, label) in seen:  # one mapping feeding one object: report it once
                continue
            seen.add((mapping, label))
            project.diagnostics.extend(_unknown_fields(project.root, mapping, label, fields))


def _fed_targets(interface):
    """(target spec, mapping name) of every target and callback target of the interface."""
    for target in interface.targets:
        yield target, getattr(target, "mapping", None) or interface.mapping
    for callback in getattr(interface, "callbacks", None) or []:
        yield callback.target, callback.mapping


def _unknown_fields(root: Path, mapping: str, label: str, fields: dict[str, Any]) -> list[Diagnostic]:
    from runtime.yamlsource import YamlProblem, load_file

    path = root / "mappings" / f"{mapping}.yaml"
    if not path.is_file():
        return []  # reported by the mapping checks
    try:
        doc = load_file(path, relative(path, root))
    except YamlProblem:
        return []  # reported by the mapping checks
    output = doc.data.get("output") if isinstance(doc.data, dict) else None
    if not isinstance(output, dict):
        return []
    return list(_walk(doc, ("output",), output, label, fields))


def _walk(doc, loc: tuple, output: dict, label: str, fields: dict[str, Any]):
    for name, value in output.items():
        if name not in fields:
            close = difflib.get_close_matches(str(name), [str(f) for f in fields], n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            yield doc.diagnostic((*loc, name), f"'{name}' is not a field of {label}{hint}")
            continue
        nested = fields[name]
        entry = value.get("output") if isinstance(value, dict) and "each" in value else None
        if isinstance(nested, dict) and isinstance(entry, dict):
            yield from _walk(doc, (*loc, name, "output"), entry, f"{label}'s {name}", nested)
