"""``koppel validate`` for mapping files: every problem, each with file:line:col and dotted path.

Checks mappings/*.yaml (the file model, the name, every expression compiled, functions and their
argument counts, value maps, the contract reference), mappings/valuemaps/*.yaml and
mappings/tests/*.yaml. A contract in ``${specs}`` that is absent on this machine is not an error
(``koppel test`` says it was skipped).
"""

from __future__ import annotations

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
    for path in chosen(sorted(folder.glob("*.yaml"))):
        diagnostics += check_mapping_file(path, root, valuemaps, names)
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
                       names: RelativeNames | None = None) -> list[Diagnostic]:
    """``valuemaps``: name → ValueMap already loaded (by an earlier mapping of the same check);
    the maps this mapping loads are added to it. ``names``: the file names of check_mappings's
    project (each folder resolved once)."""
    from runtime.mapping import contract as contracts
    from runtime.mapping.engine import Builder, MappingContext
    from runtime.mapping.model import MappingFile

    doc, problems = _load(path, root, names)
    if doc is None:
        return problems
    if not isinstance(doc.data, dict):
        return [doc.diagnostic((), "a mapping file must be a mapping with name and output")]
    problems += _model_problems(doc, MappingFile)
    if doc.data.get("name") not in (None, path.stem):
        problems.append(doc.diagnostic(("name",), f"name must be '{path.stem}', the file name without .yaml"))
    # check_only: every expression parsed and checked as load_mapping does, but no code compiled
    builder = Builder(MappingContext(root, valuemaps), collect=True, check_only=True)
    try:
        builder.build(doc.data)
    except Exception as exc:  # noqa: BLE001 - a shape the model already reported; do not crash validate
        if not problems:
            problems.append(doc.diagnostic((), f"cannot compile: {exc}"))
    if valuemaps is not None:
        valuemaps.update(builder.context.maps)
    reported = {d.path for d in problems}
    for problem in builder.problems:
        d = doc.diagnostic(problem.loc, "")
        if d.path in reported:
            continue  # the file model already said what is wrong here
        message = problem.message
        if problem.column is not None:
            message += f" (at character {problem.column + 1} of the expression)"
        problems.append(doc.diagnostic(problem.loc, message))
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
