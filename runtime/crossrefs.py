"""Checks of the definitions against each other, after each file has been loaded on its own.

Every catalog row has an interface file and every interface file a catalog row; systems exist and
belong to the row; mapping files exist; plugins' own checks (an operation in a WSDL, an SIS
object's fields); triggers fit their sources; webhooks can authenticate their callers and do not
share a path. Each check appends Diagnostics to the project and never stops the others.

The catalog is read as written (``catalog_doc``), so these checks still run when another part of
catalog.yaml is invalid.
"""

from __future__ import annotations

import re
from typing import Any

from runtime.diagnostics import Diagnostic, did_you_mean
from runtime.fieldcheck import check_target_fields
from runtime.models.interface import InterfaceBase
from runtime.objectcheck import check_declared_objects
from runtime.registry import Registry

#: the rows of the college's own overview (seeds/): they must all be in the catalog. New interfaces
#: take any other number; nothing caps the numbering.
OVERVIEW_ROWS = range(28)


def check_references(project, registry: Registry) -> None:
    if project.catalog_doc is not None:
        _check_catalog_against_interfaces(project)
        _check_systems(project)
    _check_mappings_exist(project)
    _check_plugins(project, registry)
    _check_triggers(project)
    _check_webhooks(project)
    check_declared_objects(project)
    check_target_fields(project, registry)
    check_bsn_purpose(project)
    check_placeholders(project)


def _raw_rows(project) -> list[tuple[int, dict]]:
    """Catalog rows as written, usable even when another part of catalog.yaml is invalid."""
    data = project.catalog_doc.data if project.catalog_doc else None
    rows = data.get("interfaces") if isinstance(data, dict) else None
    return [(i, r) for i, r in enumerate(rows if isinstance(rows, list) else []) if isinstance(r, dict)]


def _raw_systems(project) -> set[str] | None:
    data = project.catalog_doc.data if project.catalog_doc else None
    systems = data.get("systems") if isinstance(data, dict) else None
    return set(systems) if isinstance(systems, dict) else None


def _check_catalog_against_interfaces(project) -> None:
    doc = project.catalog_doc
    rows = _raw_rows(project)
    ids = [r.get("id") for _, r in rows]
    for i, row in rows:
        rid = row.get("id")
        if not isinstance(rid, int):
            continue
        if ids.count(rid) > 1 and ids.index(rid) != i:
            project.diagnostics.append(doc.diagnostic(("interfaces", i, "id"), f"interface {rid} is listed twice"))
        path = project.interface_paths.get(rid)
        if path is None:
            project.diagnostics.append(
                doc.diagnostic(("interfaces", i, "file"), f"interface {rid} has no definition ({row.get('file')} not found)")
            )
        elif project.relative(path) != row.get("file"):
            project.diagnostics.append(
                doc.diagnostic(
                    ("interfaces", i, "file"),
                    f"interface {rid} is defined in {project.relative(path)}, not {row.get('file')}",
                )
            )
    missing = sorted(set(OVERVIEW_ROWS) - set(ids))
    if missing:
        project.diagnostics.append(
            doc.diagnostic(("interfaces",), f"the overview's interfaces {missing} are missing from the catalog")
        )
    for number, path in project.interface_paths.items():
        if number not in ids:
            project.diagnostics.append(
                Diagnostic(project.relative(path), 1, 1, "id", f"interface {number} has no row in catalog.yaml")
            )


def _spec_parts(interface: Any):  # the registry-built Interface model (runtime/models/interface.py)
    """(loc, spec, role) for every source and target, the callbacks' included (role
    ``callback``: the system that calls back, which the interface delivers to)."""
    if interface.source is not None:
        yield ("source",), interface.source, "source"
    for i, source in enumerate(interface.sources or []):
        yield ("sources", i), source, "source"
    for i, target in enumerate(interface.targets):
        yield ("targets", i), target, "target"
    for i, callback in enumerate(getattr(interface, "callbacks", None) or []):
        yield ("callbacks", i, "source"), callback.source, "callback"
        yield ("callbacks", i, "target"), callback.target, "target"


def _check_systems(project) -> None:
    systems = _raw_systems(project)
    if systems is None:
        return
    rows = {r.get("id"): r for _, r in _raw_rows(project)}
    for number, interface in project.interfaces.items():
        doc = project.interface_docs[number]
        row = rows.get(number, {})
        for loc, spec, role in _spec_parts(interface):
            system = getattr(spec, "system", None)
            if system is None:
                continue
            if system not in systems:
                project.diagnostics.append(doc.diagnostic((*loc, "system"), f"unknown system "
                                                          f"'{system}'{did_you_mean(system, systems)}"))
                continue
            side = "source_systems" if role == "source" else "target_systems"  # a callback comes from a target
            allowed = row.get(side)
            if isinstance(allowed, list) and system not in allowed:
                project.diagnostics.append(
                    doc.diagnostic((*loc, "system"), f"system '{system}' is not among the catalog row's {side} {allowed}")
                )
    doc = project.catalog_doc
    for i, row in _raw_rows(project):
        for side in ("source_systems", "target_systems"):
            names = row.get(side)
            for j, name in enumerate(names if isinstance(names, list) else []):
                if name not in systems:
                    project.diagnostics.append(doc.diagnostic(("interfaces", i, side, j), f"unknown system '{name}'"))


def _mapping_refs(interface: Any):  # the registry-built Interface model
    if interface.mapping:
        yield ("mapping",), interface.mapping
    for i, target in enumerate(interface.targets):
        if getattr(target, "mapping", None):
            yield ("targets", i, "mapping"), target.mapping
        writeback = getattr(target, "writeback", None)
        if writeback is not None:
            yield ("targets", i, "writeback", "mapping"), writeback.mapping
    for i, callback in enumerate(getattr(interface, "callbacks", None) or []):
        yield ("callbacks", i, "mapping"), callback.mapping


def _check_mappings_exist(project) -> None:
    available = sorted(p.stem for p in (project.root / "mappings").glob("*.yaml"))
    for number, interface in project.interfaces.items():
        doc = project.interface_docs[number]
        for loc, name in _mapping_refs(interface):
            if not project.mapping_path(name).exists():
                project.diagnostics.append(doc.diagnostic(loc, f"mapping file mappings/{name}.yaml not found"
                                                          f"{did_you_mean(name, available)}"))


def _check_plugins(project, registry: Registry) -> None:
    """Checks a plugin knows beyond the schema: an operation in a WSDL, a SIS object type."""
    from runtime.plugin import PluginContext

    for number, interface in project.interfaces.items():
        doc = project.interface_docs[number]
        for loc, spec, _role in _spec_parts(interface):
            plugin = registry.get(spec.type)
            if plugin.check is None:
                continue
            ctx = PluginContext(environment="sandbox", project_root=project.root, system_name=getattr(spec, "system", None), interface_id=number)
            problems = plugin.check(spec, ctx)
            for sub_loc, message in problems:
                project.diagnostics.append(doc.diagnostic((*loc, *sub_loc), message))


def _check_triggers(project) -> None:
    for number, interface in project.interfaces.items():
        doc = project.interface_docs[number]
        trigger = interface.trigger.type
        sources = interface.all_sources
        webhooks = [s.type == "webhook" for s in sources]
        if (trigger == "webhook") != any(webhooks) or (any(webhooks) and not all(webhooks)):
            project.diagnostics.append(
                doc.diagnostic(("trigger", "type"), "a webhook trigger goes with webhook sources, and only with them")
            )
        reads_sis = all(s.type == "sis" or (s.type == "db" and s.system == "sis") for s in sources)
        if trigger == "outbox" and not reads_sis:
            project.diagnostics.append(
                doc.diagnostic(("trigger", "type"), "an outbox trigger needs a source that reads the SIS store (sis, or db on system sis)")
            )
        if interface.type == "realtime" and trigger in ("cron", "manual") and interface.status == "active":
            project.diagnostics.append(
                doc.diagnostic(("trigger", "type"), f"a realtime interface cannot run on a {trigger} trigger; use outbox, webhook, poll or interval")
            )


def _webhook_parts(interface: InterfaceBase):
    """(loc, spec) of every inbound webhook: webhook sources and the callbacks' sources."""
    for loc, spec, role in _spec_parts(interface):
        if spec.type == "webhook" and role in ("source", "callback"):
            yield loc, spec


def _check_webhooks(project) -> None:
    """Every webhook can authenticate its callers in every environment (its own ``auth`` or its
    system's ``inbound_auth``), and no two active webhooks share a path on Koppel's server."""
    systems = project.catalog.systems if project.catalog is not None else None
    paths: dict[str, int] = {}
    for number, interface in sorted(project.interfaces.items()):
        doc = project.interface_docs[number]
        for loc, spec in _webhook_parts(interface):
            if spec.auth is None and systems is not None:
                system = systems.get(spec.system) if spec.system else None
                if spec.system is None:
                    project.diagnostics.append(doc.diagnostic(
                        (*loc, "auth"), "a webhook needs `auth:` or a `system:` whose inbound_auth authenticates the caller"))
                elif system is not None:
                    missing = [env for env, settings in system.environments.items() if settings.inbound_auth is None]
                    if missing:
                        project.diagnostics.append(doc.diagnostic(
                            (*loc, "system"), f"system '{spec.system}' has no inbound_auth for environment(s) "
                            f"{', '.join(missing)} in catalog.yaml, and the webhook gives no `auth:`"))
            if interface.status != "active":
                continue
            path = spec.path.rstrip("/")
            if spec.style == "scim" and spec.resource:
                path = f"{path}#{spec.resource}"  # one SCIM base serves Users and Groups apart
            if path in paths and paths[path] != number:
                project.diagnostics.append(doc.diagnostic(
                    (*loc, "path"), f"path {spec.path} is already served for interface {paths[path]}"))
            elif path in paths:
                project.diagnostics.append(doc.diagnostic((*loc, "path"), f"path {spec.path} is served twice"))
            paths.setdefault(path, number)


# --- purpose binding of the BSN (warnings) --------------------------------------------------

#: a column or field that holds a BSN or onderwijsnummer, whatever its spelling
BSN_LIKE = re.compile(r"(^|[_.-])(bsn|burgerservicenummer|sofi(nummer)?|onderwijsnummer)($|[_.-])", re.IGNORECASE)


def check_bsn_purpose(project) -> None:
    """Art. 46 UAVG: the BSN only goes where a law prescribes its use. Warns when a replication
    or mapping to a system whose catalog entry has no ``bsn_legal_basis`` carries a column or
    field named like a BSN or onderwijsnummer (a system whose basis allows only the hPGN
    counts as one without). A warning, not an error: the name is a strong hint, not proof."""
    data = project.catalog_doc.data if project.catalog_doc else None
    systems = data.get("systems") if isinstance(data, dict) else None
    if not isinstance(systems, dict):
        return
    for number, interface in project.interfaces.items():
        doc = project.interface_docs[number]
        columns = _replicated_columns(interface, project.root)
        for i, target in enumerate(interface.targets):
            system = getattr(target, "system", None)
            if system is None or not isinstance(systems.get(system), dict):
                continue  # the SIS itself, or an unknown system (reported elsewhere)
            basis = systems[system].get("bsn_legal_basis")
            if isinstance(basis, dict) and basis.get("carries", "bsn") == "bsn":
                continue
            why = ("may receive the BSN only as a hash (hPGN)" if isinstance(basis, dict)
                   else "has no legal basis for the BSN (bsn_legal_basis in catalog.yaml)")
            carried = [c for c in columns if BSN_LIKE.search(c.split(".")[-1])]
            mapping = getattr(target, "mapping", None) or interface.mapping
            if mapping:
                carried += [f"{mapping}: {f}" for f in _mapping_fields(project, mapping) if BSN_LIKE.search(f.split(".")[-1])]
            if carried:
                project.warnings.append(doc.diagnostic(
                    ("targets", i, "system"),
                    f"system '{system}' {why}, yet this interface carries {', '.join(carried)}",
                ))


def _replicated_columns(interface, root) -> list[str]:
    """table.column of what a replicating source (``tables``) sends, after its projections."""
    from runtime.sis import shape

    objects = shape.columns(root)  # the columns without building the ORM (declared ones included)

    out = []
    for spec in [interface.source, *(interface.sources or [])]:
        for table in getattr(spec, "tables", None) or []:
            if table.query:
                names = re.findall(r"\b\w+\b", table.query.split(" FROM ")[0])
            elif table.columns:
                names = list(table.columns)
            elif table.name in objects:
                names = list(objects[table.name])
            else:
                names = []
            renamed = getattr(table, "pseudonymise", None) or {}
            out += [f"{table.name}.{renamed.get(n, n)}" for n in names]
    return out


def _mapping_fields(project, name: str) -> list[str]:
    """The dotted names of every field a mapping outputs (keys of ``output``, nested)."""
    from runtime.yamlsource import load_file

    path = project.mapping_path(name)
    try:
        output = load_file(path).data.get("output")
    except Exception:  # noqa: BLE001 - a broken mapping file is reported by its own check
        return []
    fields: list[str] = []

    def walk(node, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "const", "when", "valuemap", "fallback", "default", "required", "items"):
                    continue
                fields.append(f"{prefix}{key}")
                walk(value, f"{prefix}{key}.")

    walk(output, "")
    return fields


#: a URL that says it is not the real one (a production URL DUO does not publish)
PLACEHOLDER = re.compile(r"placeholder|onbekend|unknown|\.invalid\b", re.IGNORECASE)


def check_placeholders(project) -> None:
    """A ``productie`` URL that is a named placeholder (the real one is not public) cannot go live."""
    data = project.catalog_doc.data if project.catalog_doc else None
    systems = data.get("systems") if isinstance(data, dict) else None
    for name, system in (systems or {}).items():
        production = ((system or {}).get("environments") or {}).get("productie") if isinstance(system, dict) else None
        url = production.get("url") if isinstance(production, dict) else None
        if isinstance(url, str) and PLACEHOLDER.search(url):
            project.warnings.append(project.catalog_doc.diagnostic(
                ("systems", name, "environments", "productie", "url"),
                f"productie URL of '{name}' is a placeholder ({url}): ask the supplier for the real one before going live",
            ))
