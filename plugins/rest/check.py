"""Checks of a rest spec beyond its schema, run by ``koppel validate``.

Each problem is ``(location inside the spec, message)``. The OpenAPI document is read when a
target names one: the operation or schema must exist in it, and a single-call target's method
should be the operation's. When the document lives under ``${specs}`` and the shared specs folder
itself is absent (a clone without ``../shared/specs``) nothing is said: the check cannot be made
there, and the tests that need the specs skip in the same situation.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from runtime import paths
from runtime.diagnostics import did_you_mean
from runtime.errors import ConfigError
from runtime.plugin import PluginContext

from .spec import RestSource, RestTarget

Problem = tuple[tuple, str]


def check_spec(spec: Any, ctx: PluginContext) -> list[Problem]:
    if isinstance(spec, RestTarget):
        return _check_target(spec, ctx)
    if isinstance(spec, RestSource):
        return _check_source(spec)
    return []


def _check_source(spec: RestSource) -> list[Problem]:
    problems: list[Problem] = []
    if spec.watermark and "{cursor}" not in spec.watermark.template:
        problems.append((("watermark", "template"), "the template must contain {cursor}, or every run reads the same"))
    if spec.watermark and spec.watermark.param in spec.params:
        problems.append((("params", spec.watermark.param), f"'{spec.watermark.param}' is also set by watermark.param"))
    if spec.format is not None and spec.paging is not None:
        problems.append((("paging",), "a file download (format) is one document: paging does not apply"))
    return problems


def _check_target(spec: RestTarget, ctx: PluginContext) -> list[Problem]:
    problems: list[Problem] = []
    shapes = [name for name in ("path", "steps", "download") if getattr(spec, name)]
    if len(shapes) > 1:
        message = f"give one of path (one call), steps (several calls) or download (files), not {' and '.join(shapes)}"
        problems.append(((shapes[1],), message))
    if not shapes:
        problems.append((("path",), "a rest target needs a path (or steps, or download)"))
    if spec.batch and spec.batch > 1 and spec.steps:
        problems.append((("batch",), "batch sends one array per call; it cannot be combined with steps"))
    if spec.batch and spec.batch > 1 and spec.body != "json":
        problems.append((("batch",), "batch sends a JSON array: it needs body: json"))
    if (spec.operation or spec.schema_ref) and not spec.openapi:
        field = "operation" if spec.operation else "schema_ref"
        problems.append(((field,), f"{field} needs openapi: the document to look it up in"))
    if spec.openapi:
        problems.extend(_check_openapi(spec, ctx))
    if spec.download:
        problems.extend(_check_download(spec, ctx))
    return problems


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def _check_download(spec: RestTarget, ctx: PluginContext) -> list[Problem]:
    """Names of the downloads differ; ``each`` names a list the target's mapping outputs, and the
    ``to`` and path placeholders of a download are fields of what they are read in (the element of
    that list, over the record; the record without ``each``). Only plain names are checked, and
    only when the target names its own mapping: an expression or the interface's mapping is left
    to the run."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, download in enumerate(spec.download or []):
        if download.name in seen:
            problems.append((("download", i, "name"), f"two downloads are named '{download.name}': the write-back "
                             "would see only one of them"))
        seen.add(download.name)
    output = _mapping_output(spec, ctx)
    if output is None:
        return problems
    top = {str(k): v for k, v in output.items()}
    for i, download in enumerate(spec.download or []):
        fields, where = set(top), f"the output of mapping {spec.mapping}"
        if download.each is not None:
            if not _PLAIN.match(download.each):
                continue
            if download.each not in top:
                problems.append((("download", i, "each"),
                                 f"'{download.each}' is not a field of {where}{did_you_mean(download.each, top)}"))
                continue
            element = _element_fields(top[download.each])
            if element is None:
                problems.append((("download", i, "each"), f"'{download.each}' in mapping {spec.mapping} is not a list "
                                 "(a field with each: and output:)"))
                continue
            fields, where = set(element) | fields, f"an element of '{download.each}' nor of {where}"
        if _PLAIN.match(download.to) and download.to not in fields:
            problems.append((("download", i, "to"), f"'{download.to}' is not a field of {where}{did_you_mean(download.to, fields)}"))
        for name in _PLACEHOLDER.findall(download.path):
            if _PLAIN.match(name) and name not in fields:
                problems.append((("download", i, "path"), f"{{{name}}} is not a field of {where}{did_you_mean(name, fields)}"))
    return problems


def _mapping_output(spec: RestTarget, ctx: PluginContext) -> dict | None:
    from runtime.yamlsource import YamlProblem, load_file

    if not spec.mapping:
        return None
    path = ctx.project_root / "mappings" / f"{spec.mapping}.yaml"
    if not path.is_file():
        return None  # said by the mapping checks
    try:
        data = load_file(path).data
    except YamlProblem:
        return None  # said by the mapping checks
    output = data.get("output") if isinstance(data, dict) else None
    return output if isinstance(output, dict) else None


def _element_fields(node: Any) -> list[str] | None:
    """The fields of one element of a list the mapping outputs (``{each, output}``), or None."""
    if isinstance(node, dict) and "each" in node and isinstance(node.get("output"), dict):
        return [str(k) for k in node["output"]]
    return None




def _check_openapi(spec: RestTarget, ctx: PluginContext) -> list[Problem]:
    from . import openapi

    assert spec.openapi is not None
    path = paths.expand(spec.openapi, ctx.project_root)
    if not path.exists():
        if spec.openapi.startswith(paths.SPECS_PLACEHOLDER) and not paths.specs_dir(ctx.project_root).is_dir():
            return []  # the shared specs are not here: nothing can be said
        return [(("openapi",), f"OpenAPI document {spec.openapi} not found ({path})")]
    try:
        document = openapi.load(path)
    except ConfigError as exc:
        return [(("openapi",), str(exc))]
    problems: list[Problem] = []
    if not spec.operation and not spec.schema_ref:
        problems.append((("openapi",), "name the operation (operationId) or the schema_ref to check bodies against"))
    if spec.operation:
        operation = document.operation(spec.operation)
        if operation is None:
            close = difflib.get_close_matches(spec.operation, document.operation_ids, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append((("operation",), f"unknown operation '{spec.operation}' in {path.name}{hint}"))
        elif not spec.steps and operation.method != spec.method:
            problems.append(
                (("method",), f"operation '{spec.operation}' is {operation.method} {operation.path}, not {spec.method}")
            )
        elif operation.pointer is None and not spec.schema_ref:
            problems.append((("operation",), f"operation '{spec.operation}' has no JSON request body to check"))
    if spec.schema_ref:
        name = spec.schema_ref.rsplit("/", 1)[-1]
        if not document.has_schema(name):
            known = list((document.data.get("components") or {}).get("schemas") or {})
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append((("schema_ref",), f"no schema '{name}' under components/schemas in {path.name}{hint}"))
    return problems
