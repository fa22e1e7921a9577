"""Load a Koppel project (catalog.yaml, interfaces/, mappings/) and report every problem at once.

``load_project`` never stops at the first problem: each file is loaded and checked on its own,
then the files are checked against each other, and all diagnostics are returned together.
``require_valid`` turns them into one DefinitionError for the commands that must not run on a
broken definition.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from runtime.crossrefs import check_references
from runtime.diagnostics import Diagnostic, did_you_mean
from runtime.errors import DefinitionError
from runtime.models.catalog import Catalog
from runtime.models.interface import InterfaceBase, interface_model, plugins_used
from runtime.registry import Registry
from runtime.registry import registry as default_registry
from runtime.yamlsource import Located, RelativeNames, YamlProblem, load_file

INTERFACE_FILE = re.compile(r"^(\d{2,})-[a-z0-9-]+\.yaml$")  # 00-27 of the overview, 28 and on
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_ALLOWED_PLACEHOLDER = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:[^}\s]+|specs|documents)$")


@dataclass
class Project:
    root: Path
    catalog: Catalog | None = None
    catalog_doc: Located | None = None
    interfaces: dict[int, InterfaceBase] = field(default_factory=dict)
    interface_docs: dict[int, Located] = field(default_factory=dict)
    interface_paths: dict[int, Path] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: what validate reports without failing (crossrefs: a BSN without legal basis, a placeholder)
    warnings: list[Diagnostic] = field(default_factory=list)
    #: a file's name as its diagnostics give it: ``relative(path, root)``, each folder resolved once
    relative: RelativeNames = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.relative = RelativeNames(self.root)

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


def load_project(root: Path, registry: Registry | None = None, only: list[str] | None = None) -> Project:
    """The whole project, or with ``only`` (interface references: ``0``, ``13-eckid``) catalog.yaml
    and just those interfaces' files and the mappings and value maps they use: ``koppel run 13``
    neither reads nor checks the other interfaces (a broken one cannot stop or slow it). The
    other interface files are still listed (``interface_paths``), so the catalog's rows resolve."""
    root = root.resolve()
    _keep_parses(root)
    registry = registry or default_registry()
    project = Project(root)
    _load_catalog(project)
    _load_interfaces(project, registry, only)
    check_references(project, registry)
    _check_mapping_files(project, only is not None)
    project.diagnostics = _unique(project.diagnostics)
    return project


def _keep_parses(root: Path) -> None:
    """In a process started as the ``koppel`` command, each file's parse (and what else depends
    on nothing but its bytes) is kept in the cache folder and found there by its bytes, as
    ``koppel validate`` keeps them (runtime/cli/validate_cache.py's Artifacts): parsing
    catalog.yaml and interface 0's file took ~24 ms of CPU of every ``koppel run 0``, reading
    their kept parses ~1 ms, measured. Not for an in-process caller (a test may have changed
    the parser in memory), nor with KOPPEL_VALIDATE_CACHE=off."""
    from runtime import yamlsource

    if yamlsource.artifacts is not None or "runtime.cli" not in sys.modules:  # validate set it; not the command
        return
    from runtime.cli import validate_cache

    if validate_cache.enabled():
        validate_cache.use_artifacts(root)


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
            project.diagnostics.append(doc.diagnostic(loc, _message(dict(err))))
        return None


def _message(err: dict) -> str:
    kind, loc = err["type"], err["loc"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        return f"unknown field '{name}'{did_you_mean(name, _FIELD_VOCABULARY, cutoff=0.75)}"
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
    display = project.relative(path)
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


def _load_interfaces(project: Project, registry: Registry, only: list[str] | None = None) -> None:
    folder = project.root / "interfaces"
    wanted = {str(ref) for ref in only} if only is not None else None
    # the whole project needs every plugin's spec; an interface run on its own only its own
    model = interface_model(registry) if wanted is None else None
    seen: dict[int, Path] = {}
    for path in sorted(folder.glob("*.y*ml")):
        display = project.relative(path)
        match = INTERFACE_FILE.match(path.name)
        if not match:
            project.diagnostics.append(
                Diagnostic(display, None, None, "", "name an interface file NN-name.yaml (e.g. 13-eckid.yaml)")
            )
            continue
        number = int(match.group(1))
        if number in seen:
            project.diagnostics.append(
                Diagnostic(display, None, None, "", f"interface {number} is also defined in {project.relative(seen[number])}")
            )
            continue
        seen[number] = path
        project.interface_paths[number] = path  # known even when its content cannot be loaded
        if wanted is not None and not wanted & {str(number), f"{number:02d}", path.stem}:
            continue
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
        interface = _validate(doc, model or interface_model(plugins_used(doc.data, registry)), project)
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


def _check_mapping_files(project: Project, used_only: bool = False) -> None:
    """The mapping engine checks the mapping files themselves (expressions, functions, tests);
    ``used_only``: just the mappings and value maps the loaded interfaces use, no tests."""
    try:
        from runtime.mapping.check import check_mappings
    except ModuleNotFoundError:
        return
    if not used_only:
        project.diagnostics.extend(check_mappings(project))
        return
    from runtime.servable import interface_files, valuemaps_used

    files: set[str] = set()
    for interface in project.interfaces.values():
        files |= interface_files(project, interface)
    project.diagnostics.extend(check_mappings(project, files | valuemaps_used(project, files)))


def _vocabulary() -> list[str]:
    from runtime.models import auth, catalog, common, interface

    import plugins.formats

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
