"""``koppel validate`` for mapping files: every problem, each with file:line:col and dotted path.

Checks mappings/*.yaml (the file model, the name, every expression compiled, functions and their
argument counts, value maps, the contract reference), mappings/valuemaps/*.yaml and
mappings/tests/*.yaml. A contract in ``${specs}`` that is absent on this machine is not an error
(``koppel test`` says it was skipped).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from runtime.diagnostics import Diagnostic, relative
from runtime.errors import ConfigError
from runtime.yamlsource import Located, RelativeNames, YamlProblem, load_file


def check_mappings(project: Any, files: set[str] | None = None) -> list[Diagnostic]:
    """Every mapping, value map and test file; with ``files`` (paths relative to the project,
    ``mappings/x.yaml``) only those, and no tests (``koppel run N`` checks what N uses)."""
    root = Path(project.root)
    folder = root / "mappings"
    diagnostics: list[Diagnostic] = []
    if not folder.is_dir():
        return diagnostics
    names = getattr(project, "relative", None)  # a Project names its files, each folder resolved once
    if not isinstance(names, RelativeNames):
        names = RelativeNames(root)

    def chosen(paths: list[Path]) -> list[Path]:
        return paths if files is None else [p for p in paths if names(p) in files]

    for path in chosen(sorted((folder / "valuemaps").glob("*.yaml"))):
        diagnostics += check_valuemap_file(path, root, names)
    valuemaps: dict = {}  # loaded once for all the mappings that use them (only the ones that load)
    map_reads: dict[str, bytes] = {}  # and the SHA-256 of each one's bytes
    for path in chosen(sorted(folder.glob("*.yaml"))):
        diagnostics += check_mapping_file(path, root, valuemaps, names, map_reads)
    for path in sorted((folder / "tests").glob("*.yaml")) if files is None else []:
        diagnostics += check_test_file(path, root, names)
    return diagnostics


def _load(path: Path, root: Path, names: RelativeNames | None = None) -> tuple[Located | None, list[Diagnostic]]:
    try:
        doc = load_file(path, names(path) if names is not None else relative(path, root))
    except YamlProblem as exc:
        return None, list(exc.diagnostics)
    return doc, []


def _model_problems(doc: Located, model: type[BaseModel]) -> list[Diagnostic]:
    try:
        model.model_validate(doc.data)
    except ValidationError as exc:
        seen: set = set()
        out = []
        for error in exc.errors():
            d = doc.diagnostic(error["loc"], error["msg"])
            if (d.line, d.column, d.path, d.message) not in seen:
                seen.add((d.line, d.column, d.path, d.message))
                out.append(d)
        return out
    return []


def check_mapping_file(path: Path, root: Path, valuemaps: dict | None = None,
                       names: RelativeNames | None = None, map_reads: dict[str, bytes] | None = None) -> list[Diagnostic]:
    """``valuemaps``: name → ValueMap already loaded (by an earlier mapping of the same check);
    the maps this mapping loads are added to it. ``names``: the file names of check_mappings's
    project (each folder resolved once). ``map_reads``: the SHA-256 of each value map in
    ``valuemaps``, by its file, so that the Builder's findings can be kept (see _compiled)."""
    from runtime.mapping import contract as contracts
    from runtime.mapping.model import MappingFile

    doc, problems = _load(path, root, names)
    if doc is None:
        return problems
    if not isinstance(doc.data, dict):
        return [doc.diagnostic((), "a mapping file must be a mapping with name and output")]
    problems += _model_problems(doc, MappingFile)
    if doc.data.get("name") not in (None, path.stem):
        problems.append(doc.diagnostic(("name",), f"name must be '{path.stem}', the file name without .yaml"))
    found, failure = _compiled(doc, root, valuemaps, map_reads)
    if failure is not None and not problems:  # a shape the model already reported: no crash either
        problems.append(doc.diagnostic((), f"cannot compile: {failure}"))
    reported = {d.path for d in problems}
    for loc, message, column in found:
        d = doc.diagnostic(loc, "")
        if d.path in reported:
            continue  # the file model already said what is wrong here
        if column is not None:
            message += f" (at character {column + 1} of the expression)"
        problems.append(doc.diagnostic(loc, message))
    if isinstance(doc.data.get("contract"), dict):
        try:
            contracts.load(doc.data["contract"], root)
        except ConfigError as exc:
            problems.append(doc.diagnostic(("contract",), exc.message))
        except (KeyError, TypeError):
            pass  # the model check above reported the malformed contract
    return problems


def check_valuemap_file(path: Path, root: Path, names: RelativeNames | None = None) -> list[Diagnostic]:
    from runtime.mapping.model import ValueMapFile

    doc, problems = _load(path, root, names)
    if doc is None:
        return problems
    if not isinstance(doc.data, dict):
        return [doc.diagnostic((), "a value map file must be a mapping with codes")]
    problems += _model_problems(doc, ValueMapFile)
    if doc.data.get("name") not in (None, path.stem):
        problems.append(doc.diagnostic(("name",), f"name must be '{path.stem}', the file name without .yaml"))
    return problems


def check_test_file(path: Path, root: Path, names: RelativeNames | None = None) -> list[Diagnostic]:
    from runtime.mapping.model import MappingTests

    doc, problems = _load(path, root, names)
    if doc is None:
        return problems
    problems += _model_problems(doc, MappingTests)
    cases = doc.data if isinstance(doc.data, list) else (doc.data or {}).get("cases") if isinstance(doc.data, dict) else None
    seen: dict[str, int] = {}
    for i, case in enumerate(cases if isinstance(cases, list) else []):
        name = case.get("name") if isinstance(case, dict) else None
        if isinstance(name, str):
            if name in seen:
                loc = (i, "name") if isinstance(doc.data, list) else ("cases", i, "name")
                problems.append(doc.diagnostic(loc, f"a second case named '{name}' (the first is case {seen[name] + 1})"))
            seen.setdefault(name, i)
    mapping = doc.data.get("mapping") if isinstance(doc.data, dict) else None
    name = mapping or path.stem
    if not (root / "mappings" / f"{name}.yaml").is_file():
        where: tuple = ("mapping",) if mapping else ()
        problems.append(doc.diagnostic(where, f"tests for mapping '{name}', but mappings/{name}.yaml does not exist"))
    return problems


# -- the check-only Builder's findings, kept per file ------------------------------------------
#
# What the check-only Builder finds in a mapping depends on nothing but the file's bytes, the
# mapping engine's code and the value maps it asks for: their bytes, or for one that is absent
# the names of those there are (its message lists them). In ``koppel validate``, which sets
# runtime.yamlsource.artifacts, the findings are kept with the parses, by the SHA-256 of the
# file's bytes and of the code, together with those value maps, and found again only while every
# one reads as it did. After an edit only the edited mappings are compiled again: for the college's
# 53, some 19 ms.

_KIND = "mapping-check"


def _compiled(doc: Located, root: Path, valuemaps: dict | None,
              map_reads: dict[str, bytes] | None) -> tuple[list[tuple], str | None]:
    """(loc, message, column) of each problem the check-only Builder finds in ``doc``, and the text
    of the exception it stopped on (None: it did not). ``map_reads``: name → SHA-256 of each value
    map in ``valuemaps`` (check_mappings keeps both); without it nothing is kept."""
    from runtime import yamlsource
    from runtime.mapping.valuemaps import available

    store = yamlsource.artifacts
    digest = getattr(doc, "digest", None)
    if store is None or digest is None or map_reads is None:
        return _build(doc, root, valuemaps, {}, map_reads)[:2]
    version = _engine_version()
    kept = store.get(_KIND, version, digest)
    if _well_formed(kept) and _still(kept[3], root):
        return list(kept[1]), kept[2]
    listing = available(root)  # before, as the Builder's messages see it
    reads: dict[str, bytes] = {}
    found, failure, asked = _build(doc, root, valuemaps, reads, map_reads)
    depends = _depends(asked, reads, listing, root)
    if depends is not None:
        store.put(_KIND, version, digest, ("checked", found, failure, depends))
    return found, failure


def _build(doc: Located, root: Path, valuemaps: dict | None, reads: dict[str, bytes],
           map_reads: dict[str, bytes] | None) -> tuple[list[tuple], str | None, list]:
    """The check-only Builder over ``doc.data``: its problems, the exception it stopped on and the
    names of the value maps it asked for. ``reads`` gets the name and SHA-256 of every file read
    meanwhile (the value maps it loaded) and of each value map it took from ``valuemaps``."""
    import threading

    from runtime import yamlsource
    from runtime.mapping.engine import Builder, MappingContext

    asked: list = []

    class Asking(MappingContext):
        def valuemap(self, name: str):  # noqa: ANN202 - a ValueMap
            asked.append(name)
            return super().valuemap(name)

    me = threading.get_ident()

    def read(name: str, digest: bytes) -> None:
        if threading.get_ident() == me:
            reads.setdefault(name, digest)

    earlier = dict(valuemaps or {})
    # check_only: every expression parsed and checked as load_mapping does, but no code compiled
    builder = Builder(Asking(root, valuemaps), collect=True, check_only=True)
    failure = None
    yamlsource.readers.append(read)
    try:
        builder.build(doc.data)
    except Exception as exc:  # noqa: BLE001 - a shape the model already reported; do not crash validate
        failure = str(exc)
    finally:
        yamlsource.readers.remove(read)
    if valuemaps is not None:
        valuemaps.update(builder.context.maps)
    if map_reads is not None:
        for name in dict.fromkeys(asked):
            display = _map_file(name)
            if name in earlier:  # loaded by an earlier mapping: at the bytes it read
                if display in map_reads:
                    reads.setdefault(display, map_reads[display])
            elif name in builder.context.maps and display in reads:
                map_reads[display] = reads[display]
    return [(p.loc, p.message, p.column) for p in builder.problems], failure, asked


def _map_file(name: str) -> str:
    """A value map's file as runtime.mapping.valuemaps.load names it."""
    return f"mappings/valuemaps/{name}.yaml"


def _depends(asked: list, reads: dict[str, bytes], listing: list[str], root: Path) -> list | None:
    """What the Builder's findings rest on besides the file: each file read, at its bytes; each
    value map asked for and absent; then the value maps there are. None: not known (a map whose
    bytes were not seen, a value map folder that changed meanwhile): nothing is kept."""
    from runtime.mapping.valuemaps import available, valuemap_dir

    depends: list = [("read", name, digest) for name, digest in reads.items()]
    absent = False
    try:
        for name in dict.fromkeys(asked):
            if (valuemap_dir(root) / f"{name}.yaml").is_file():
                if _map_file(name) not in reads:
                    return None
            else:
                depends.append(("absent", _map_file(name)))
                absent = True
        if absent:
            if available(root) != listing:
                return None
            depends.append(("listing", listing))
    except (OSError, ValueError, TypeError):
        return None
    return depends


def _well_formed(kept: Any) -> bool:
    return (isinstance(kept, tuple) and len(kept) == 4 and kept[0] == "checked" and isinstance(kept[1], list)
            and all(isinstance(p, tuple) and len(p) == 3 and isinstance(p[1], str) for p in kept[1])
            and (kept[2] is None or isinstance(kept[2], str)))


def _still(depends: Any, root: Path) -> bool:
    """Whether every file ``depends`` names reads as it did (runtime.yamlsource.load_file's bytes)."""
    import hashlib

    from runtime.mapping.valuemaps import available
    from runtime.yamlsource import MAX_BYTES

    if not isinstance(depends, list):
        return False
    try:
        for depend in depends:
            if depend[0] == "read":
                path = root / depend[1]
                if not path.is_file():  # gone, or no longer a file (a FIFO would block the read)
                    return False
                with path.open("rb") as handle:
                    if hashlib.sha256(handle.read(MAX_BYTES + 1)).digest() != depend[2]:
                        return False
            elif depend[0] == "absent":
                if (root / depend[1]).is_file():
                    return False
            elif depend[0] == "listing":
                if available(root) != depend[1]:
                    return False
            else:
                return False
    except (OSError, ValueError, TypeError, IndexError):
        return False
    return True


@lru_cache(maxsize=1)
def _engine_version() -> str:
    """What a mapping's findings depend on besides its bytes and value maps: the mapping engine's
    code (every module of runtime/mapping, and those of runtime it uses), the parser's (yamlsource),
    JMESPath's version and Python's."""
    import hashlib
    import os
    import sys

    import jmespath

    from runtime import yamlsource

    package = Path(__file__).resolve().parent
    runtime = package.parent
    modules = []
    for folder, dirs, files in os.walk(package):  # not into __pycache__: validate must not list it
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        modules += sorted(Path(folder) / f for f in files if f.endswith(".py"))
    code = hashlib.sha256()
    for path in [*modules, *(runtime / f"{n}.py" for n in ("diagnostics", "errors", "paths", "redact"))]:
        code.update(str(path.relative_to(runtime)).encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{code.hexdigest()}/{yamlsource.artifact_version()}/{jmespath.__version__}/{sys.version}"
