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
    if project.catalog is not None:
        _check_catalog_against_interfaces(project)
        _check_systems(project)
    _check_mappings_exist(project)
    _check_plugins(project, registry)
    _check_triggers(project)
    _check_mapping_files(project)
    return project


# -- loading ---------------------------------------------------------------------------------


def _validate(doc: Located, model: type[BaseModel], project: Project) -> Any | None:
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        for err in exc.errors():
            project.diagnostics.append(doc.diagnostic(err["loc"], _message(err)))
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
        doc = _doc(project, path)
        if doc is None:
            continue
        if not isinstance(doc.data, dict):
            project.diagnostics.append(Diagnostic(display, 1, 1, "", "an interface file must be a mapping"))
            continue
        _check_placeholders(doc, project)
        number = int(match.group(1))
        declared = doc.data.get("id")
        if isinstance(declared, int) and declared != number:
            project.diagnostics.append(
                doc.diagnostic(("id",), f"id {declared} does not match the file name's number {number:02d}")
            )
        if number in seen:
            project.diagnostics.append(
                Diagnostic(display, None, None, "", f"interface {number} is also defined in {relative(seen[number], project.root)}")
            )
            continue
        seen[number] = path
        project.interface_paths[number] = path
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


def _check_catalog_against_interfaces(project: Project) -> None:
    catalog, doc = project.catalog, project.catalog_doc
    assert catalog is not None and doc is not None
    ids = [r.id for r in catalog.interfaces]
    for i, row in enumerate(catalog.interfaces):
        if ids.count(row.id) > 1 and ids.index(row.id) != i:
            project.diagnostics.append(doc.diagnostic(("interfaces", i, "id"), f"interface {row.id} is listed twice"))
        path = project.interface_paths.get(row.id)
        if path is None:
            project.diagnostics.append(
                doc.diagnostic(("interfaces", i, "file"), f"interface {row.id} has no definition ({row.file} not found)")
            )
        elif relative(path, project.root) != row.file:
            project.diagnostics.append(
                doc.diagnostic(("interfaces", i, "file"), f"interface {row.id} is defined in {relative(path, project.root)}, not {row.file}")
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
    """(loc, spec, role) for the source and every target."""
    yield ("source",), interface.source, "source"
    for i, target in enumerate(interface.targets):
        yield ("targets", i), target, "target"


def _check_systems(project: Project) -> None:
    catalog = project.catalog
    assert catalog is not None
    for number, interface in project.interfaces.items():
        doc = project.interface_docs[number]
        row = catalog.row(number)
        for loc, spec, role in _spec_parts(interface):
            system = getattr(spec, "system", None)
            if system is None:
                continue
            if system not in catalog.systems:
                close = difflib.get_close_matches(system, list(catalog.systems), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                project.diagnostics.append(doc.diagnostic((*loc, "system"), f"unknown system '{system}'{hint}"))
                continue
            allowed = (row.source_systems if role == "source" else row.target_systems) if row else None
            if allowed is not None and system not in allowed:
                side = "source_systems" if role == "source" else "target_systems"
                project.diagnostics.append(
                    doc.diagnostic(
                        (*loc, "system"),
                        f"system '{system}' is not among the catalog row's {side} {allowed}",
                    )
                )
    doc = project.catalog_doc
    for i, row in enumerate(catalog.interfaces):
        for side in ("source_systems", "target_systems"):
            for j, name in enumerate(getattr(row, side)):
                if name not in catalog.systems:
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
            try:
                problems = plugin.check(spec, ctx)
            except ModuleNotFoundError:
                continue  # the plugin's checker is not there (yet): nothing it can tell
            for sub_loc, message in problems:
                project.diagnostics.append(doc.diagnostic((*loc, *sub_loc), message))


def _check_triggers(project: Project) -> None:
    for number, interface in project.interfaces.items():
        doc = project.interface_docs[number]
        trigger, source = interface.trigger.type, interface.source.type
        if (trigger == "webhook") != (source == "webhook"):
            project.diagnostics.append(
                doc.diagnostic(("trigger", "type"), "a webhook trigger goes with a webhook source, and only with one")
            )
        if trigger == "outbox" and source != "sis":
            project.diagnostics.append(doc.diagnostic(("trigger", "type"), "an outbox trigger needs a sis source"))
        if interface.type == "realtime" and trigger in ("cron", "manual") and interface.status == "active":
            project.diagnostics.append(
                doc.diagnostic(("trigger", "type"), f"a realtime interface cannot run on a {trigger} trigger; use outbox, webhook, poll or interval")
            )


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
