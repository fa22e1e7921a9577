"""Load a Koppel project (catalog.yaml, interfaces/, mappings/) and report every problem at once.

``load_project`` never stops at the first problem: each file is loaded and checked on its own,
then the files are checked against each other, and all diagnostics are returned together.
``require_valid`` turns them into one DefinitionError for the commands that must not run on a
broken definition.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from runtime.diagnostics import Diagnostic, relative
from runtime.errors import DefinitionError
from runtime.models.catalog import Catalog
from runtime.models.interface import InterfaceBase, interface_model
from runtime.registry import Registry, registry as default_registry
from runtime.yamlsource import Located, YamlProblem, load_file

INTERFACE_FILE = re.compile(r"^(\d\d)-[a-z0-9-]+\.yaml$")
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_ALLOWED_PLACEHOLDER = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:[^}\s]+|specs)$")


@dataclass
class Project:
    root: Path
    catalog: Catalog | None = None
    catalog_doc: Located | None = None
    interfaces: dict[int, InterfaceBase] = field(default_factory=dict)
    interface_docs: dict[int, Located] = field(default_factory=dict)
    interface_paths: dict[int, Path] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.diagnostics

    def require_valid(self) -> "Project":
        if self.diagnostics:
            raise DefinitionError(sorted(self.diagnostics))
        return self

    def interface(self, ref: str | int) -> InterfaceBase:
        """An interface by number (``13``) or by file stem (``13-eckid``)."""
        from runtime.errors import ConfigError

        text = str(ref)
        for iid, path in self.interface_paths.items():
            if text in (str(iid), f"{iid:02d}", path.stem) and iid in self.interfaces:
                return self.interfaces[iid]
        known = ", ".join(p.stem for p in sorted(self.interface_paths.values()))
        raise ConfigError(f"unknown interface '{ref}'; known: {known}")

    def mapping_path(self, name: str) -> Path:
        return self.root / "mappings" / f"{name}.yaml"


def load_project(root: Path, registry: Registry | None = None) -> Project:
    root = root.resolve()
    registry = registry or default_registry()
    project = Project(root)
    _load_catalog(project)
    _load_interfaces(project, registry)
    if project.catalog_doc is not None:
        _check_catalog_against_interfaces(project)
        _check_systems(project)
    _check_mappings_exist(project)
    _check_plugins(project, registry)
    _check_triggers(project)
    _check_webhooks(project)
    _check_mapping_files(project)
    project.diagnostics = _unique(project.diagnostics)
    return project


def _unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """One message per place: the first (most specific) check to speak about a field wins."""
    seen: set = set()
    out = []
    for d in diagnostics:
        where = (d.file, d.line, d.column, d.path)
        if where in seen:
            continue
        seen.add(where)
        out.append(d)
    return out


# -- loading ---------------------------------------------------------------------------------


def _validate(doc: Located, model: type[BaseModel], project: Project) -> Any | None:
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = err["loc"]
            if err["type"] == "union_tag_invalid":
                loc = (*loc, "type")  # point at the wrong type, not at the object
            project.diagnostics.append(doc.diagnostic(loc, _message(err)))
        return None


def _message(err: dict) -> str:
    kind, loc = err["type"], err["loc"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        close = difflib.get_close_matches(name, _FIELD_VOCABULARY, n=1, cutoff=0.75)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown field '{name}'{hint}"
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return f"unknown type '{ctx.get('tag')}'; known: {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return "'type' is missing: every object here names its kind with type:"
    msg = err["msg"]
    return msg.removeprefix("Value error, ")


def _doc(project: Project, path: Path) -> Located | None:
    display = relative(path, project.root)
    try:
        return load_file(path, display)
    except YamlProblem as exc:
        project.diagnostics.extend(exc.diagnostics)
        return None


def _load_catalog(project: Project) -> None:
    path = project.root / "catalog.yaml"
    if not path.exists():
        project.diagnostics.append(Diagnostic("catalog.yaml", None, None, "", "file not found"))
        return
    doc = _doc(project, path)
    if doc is None:
        return
    project.catalog_doc = doc
    _check_placeholders(doc, project)
    project.catalog = _validate(doc, Catalog, project)


def _load_interfaces(project: Project, registry: Registry) -> None:
    folder = project.root / "interfaces"
    model = interface_model(registry)
    seen: dict[int, Path] = {}
    for path in sorted(folder.glob("*.y*ml")):
        display = relative(path, project.root)
        match = INTERFACE_FILE.match(path.name)
        if not match:
            project.diagnostics.append(
                Diagnostic(display, None, None, "", "name an interface file NN-name.yaml (e.g. 13-eckid.yaml)")
            )
            continue
        number = int(match.group(1))
        if number in seen:
            project.diagnostics.append(
                Diagnostic(display, None, None, "", f"interface {number} is also defined in {relative(seen[number], project.root)}")
            )
            continue
        seen[number] = path
        project.interface_paths[number] = path  # known even when its content cannot be loaded
        doc = _doc(project, path)
        if doc is None:
            continue
        if not isinstance(doc.data, dict):
            project.diagnostics.append(Diagnostic(display, 1, 1, "", "an interface file must be a mapping"))
            continue
        _check_placeholders(doc, project)
        declared = doc.data.get("id")
        if isinstance(declared, int) and declared != number:
            project.diagnostics.append(
                doc.diagnostic(("id",), f"id {declared} does not match the file name's number {number:02d}")
            )
        project.interface_docs[number] = doc
        interface = _validate(doc, model, project)
        if interface is not None:
            project.interfaces[number] = interface


def _check_placeholders(doc: Located, project: Project) -> None:
    """Every ``${...}`` in a file must be a well-formed secret reference or ``${specs}``."""

    def walk(value: Any, loc: tuple) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, (*loc, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, (*loc, i))
        elif isinstance(value, str):
            for inner in _PLACEHOLDER.findall(value):
                if not _ALLOWED_PLACEHOLDER.match(inner):
                    project.diagnostics.append(
                        doc.diagnostic(loc, f"malformed reference '${{{inner}}}': use ${{env:NAME}}, ${{file:path}} or ${{specs}}")
                    )

    walk(doc.data, ())


# -- cross-references ------------------------------------------------------------------------


def _raw_rows(project: Project) -> list[tuple[int, dict]]:
    """Catalog rows as written, usable even when another part of catalog.yaml is invalid."""
    data = project.catalog_doc.data if project.catalog_doc else None
    rows = data.get("interfaces") if isinstance(data, dict) else None
    return [(i, r) for i, r in enumerate(rows if isinstance(rows, list) else []) if isinstance(r, dict)]


def _raw_systems(project: Project) -> set[str] | None:
    data = project.catalog_doc.data if project.catalog_doc else None
    systems = data.get("systems") if isinstance(data, dict) else None
    return set(systems) if isinstance(systems, dict) else None


def _check_catalog_against_interfaces(project: Project) -> None:
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
        elif relative(path, project.root) != row.get("file"):
            project.diagnostics.append(
                doc.diagnostic(
                    ("interfaces", i, "file"),
                    f"interface {rid} is defined in {relative(path, project.root)}, not {row.get('file')}",
                )
            )
    missing = sorted(set(range(28)) - set(ids))
    if missing:
        project.diagnostics.append(
            doc.diagnostic(("interfaces",), f"the overview's interfaces {missing} are missing from the catalog")
        )
    for number, path in project.interface_paths.items():
        if number not in ids:
            project.diagnostics.append(
                Diagnostic(relative(path, project.root), 1, 1, "id", f"interface {number} has no row in catalog.yaml")
            )


def _spec_parts(interface: InterfaceBase):
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


def _check_systems(project: Project) -> None:
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
                close = difflib.get_close_matches(system, sorted(systems), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                project.diagnostics.append(doc.diagnostic((*loc, "system"), f"unknown system '{system}'{hint}"))
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


def _mapping_refs(interface: InterfaceBase):
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


def _check_mappings_exist(project: Project) -> None:
    available = sorted(p.stem for p in (project.root / "mappings").glob("*.yaml"))
    for number, interface in project.interfaces.items():
        doc = project.interface_docs[number]
        for loc, name in _mapping_refs(interface):
            if not project.mapping_path(name).exists():
                close = difflib.get_close_matches(name, available, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                project.diagnostics.append(doc.diagnostic(loc, f"mapping file mappings/{name}.yaml not found{hint}"))


def _check_plugins(project: Project, registry: Registry) -> None:
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


def _check_triggers(project: Project) -> None:
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


def _check_webhooks(project: Project) -> None:
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


def _check_mapping_files(project: Project) -> None:
    """The mapping engine checks the mapping files themselves (expressions, functions, tests)."""
    try:
        from runtime.mapping.check import check_mappings
    except ModuleNotFoundError:
        return
    project.diagnostics.extend(check_mappings(project))


def _vocabulary() -> list[str]:
    import plugins.formats
    from runtime.models import auth, catalog, common, interface

    names: set[str] = set()
    for module in (auth, catalog, common, interface, plugins.formats):
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, BaseModel):
                names.update(f.alias or n for n, f in obj.model_fields.items())
    for plugin in default_registry():
        for spec in (plugin.source_spec, plugin.target_spec):
            if spec is not None:
                names.update(f.alias or n for n, f in spec.model_fields.items())
    return sorted(names)


class _LazyVocabulary:
    _names: list[str] | None = None

    def __iter__(self):
        if self._names is None:
            self._names = _vocabulary()
        return iter(self._names)


_FIELD_VOCABULARY = _LazyVocabulary()
