"""Static checks of a soap spec for ``koppel validate``: the WSDL exists and has the operations.

Reads the WSDL with lxml only (no zeep), so validation stays fast. A WSDL under ``${specs}`` is
not a problem when the specs folder itself is absent (a fresh clone elsewhere): the run falls
back to the project's own minimal contract in ``contracts/fallback`` where one exists.
"""

from __future__ import annotations

from pathlib import Path

from runtime import paths
from runtime.plugin import PluginContext

from . import wsdl, xmlsafe


def check_spec(spec, ctx: PluginContext) -> list[tuple[tuple, str]]:
    location: str = spec.wsdl
    if "://" in location:
        return []  # a remote WSDL is read at run time, never during validation
    path = paths.expand(location, ctx.project_root)
    if not path.exists():
        if location.startswith(paths.SPECS_PLACEHOLDER):
            fallback = ctx.project_root / "contracts" / "fallback" / location[len(paths.SPECS_PLACEHOLDER) :].lstrip("/")
            if fallback.exists():
                path = fallback
            elif not paths.specs_dir(ctx.project_root).exists():
                return []
            else:
                return [(("wsdl",), f"WSDL not found: {location} ({path})")]
        else:
            return [(("wsdl",), f"WSDL not found: {location}")]
    try:
        info = wsdl.read(Path(path))
    except (xmlsafe.MalformedXML, OSError) as exc:
        return [(("wsdl",), f"WSDL cannot be read: {exc}")]
    problems: list[tuple[tuple, str]] = []
    known = sorted(info.operations)

    def check(loc: tuple, name: str | None) -> None:
        if name and name not in info.operations:
            problems.append((loc, f"unknown operation {name!r} (the WSDL has: {', '.join(known)})"))

    check(("operation",), spec.operation)
    for index, name in enumerate(getattr(spec, "before", []) or []):
        check(("before", index), name)
    check(("detail_operation",), getattr(spec, "detail_operation", None))
    batch = getattr(spec, "batch", None)
    if batch is not None:
        check(("batch", "retrieve"), batch.retrieve)
        for index, stage in enumerate(batch.stages):
            check(("batch", "stages", index, "submit"), stage.submit)
    problems += _system_fields(spec, ctx)
    return problems


def _system_fields(spec, ctx: PluginContext) -> list[tuple[tuple, str]]:
    """Every option a ``system_fields`` entry names is set for the environment being checked, or,
    when no environment's settings were given (``koppel validate``), for every environment the
    catalog has for the system: productie's licence or chain missing is found before a run."""
    fields = getattr(spec, "system_fields", None) or {}
    if not fields:
        return []
    if ctx.system is not None:
        per_environment = {ctx.environment: dict(ctx.system.options)}
    elif ctx.system_name:
        from .settings import catalog_system

        environments = catalog_system(ctx.project_root, ctx.system_name).get("environments") or {}
        per_environment = {name: dict((settings or {}).get("options") or {})
                           for name, settings in environments.items() if isinstance(settings, dict)}
    else:
        return []
    return [(("system_fields", name),
             f"system {ctx.system_name} has no options.{option} for environment '{environment}' in catalog.yaml")
            for environment, options in per_environment.items()
            for name, option in fields.items() if options.get(option) in (None, "")]
