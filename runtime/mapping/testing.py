"""Running the mapping test cases in mappings/tests/<name>.yaml, without any system running.

A case gives an input record and one expectation: the exact output (``expect``), an error
(``expect_error`` with the field ``path`` and text the reason ``contains``), or that the
mapping's ``where`` skips it (``expect_skip: true``). The output of an ``expect`` case is also
checked against the mapping's contract; when that contract's file is absent (no ``${specs}``
on this machine) the case still runs and a warning says the contract was not checked.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from runtime import redact
from runtime.errors import ConfigError, ContractError, MappingError


@dataclass
class CaseResult:
    mapping: str
    case: str
    passed: bool
    detail: str = ""
    #: not run to the end: it expects a contract error and the contract is not on this machine
    skipped: bool = False


@dataclass
class Report:
    results: list[CaseResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.passed and not r.skipped for r in self.results)

    @property
    def skipped(self) -> int:
        return sum(r.skipped for r in self.results)

    @property
    def failed(self) -> int:
        return sum(not r.passed for r in self.results)


def test_files(project_root: Path) -> dict[str, Path]:
    """mapping name → its test file."""
    found: dict[str, Path] = {}
    for path in sorted((project_root / "mappings" / "tests").glob("*.yaml")):
        found[_mapping_of(path)] = path
    return found


def _mapping_of(path: Path) -> str:
    from runtime.yamlsource import YamlProblem, load_file

    try:  # the bounded reader: a hostile test file must not hang `koppel test` here
        data = load_file(path).data
    except YamlProblem:  # a broken file is reported when it is run
        return path.stem
    return (data.get("mapping") if isinstance(data, dict) else None) or path.stem


def run(project_root: Path, names: list[str] | None = None, case_filter: str | None = None) -> Report:
    project_root = Path(project_root)
    report = Report()
    files = test_files(project_root)
    mappings = sorted(p.stem for p in (project_root / "mappings").glob("*.yaml"))
    if names:
        unknown = [n for n in names if n not in files and n not in mappings]
        if unknown:
            raise ConfigError(f"no mapping named {', '.join(unknown)}; mappings: {', '.join(mappings) or 'none'}")
    selected = names or sorted(set(files) | set(mappings))
    for name in selected:
        if name not in files:
            report.untested.append(name)
            continue
        _run_file(project_root, name, files[name], case_filter, report)
    return report


def _run_file(root: Path, name: str, path: Path, case_filter: str | None, report: Report) -> None:
    from pydantic import ValidationError

    from runtime.mapping import load_mapping
    from runtime.mapping.model import MappingTests
    from runtime.yamlsource import YamlProblem, load_file

    try:
        doc = load_file(path, f"mappings/tests/{path.name}")
        tests = MappingTests.model_validate(doc.data)
        compiled = load_mapping(root, name)
    except YamlProblem as exc:
        report.results.append(CaseResult(name, "(loading the tests)", False, str(exc)))
        return
    except ValidationError as exc:
        first = exc.errors()[0]
        report.results.append(CaseResult(name, "(loading the tests)", False, str(doc.diagnostic(first["loc"], first["msg"]))))
        return
    except ConfigError as exc:
        report.results.append(CaseResult(name, "(loading the mapping)", False, redact.text(str(exc))))
        return
    if compiled.contract_warning:
        report.warnings.append(f"{name}: {compiled.contract_warning}")
    for case in tests.cases:
        if case_filter and case_filter.lower() not in case.name.lower():
            continue
        report.results.append(run_case(compiled, case))


def run_case(compiled: Any, case: Any) -> CaseResult:
    from runtime.mapping.functions.clock import fixed_time

    moment = datetime.fromisoformat(case.now) if case.now else None
    error: MappingError | ContractError | None = None
    output: Any = None
    with fixed_time(moment):
        try:
            output = compiled(case.input)
            if output is not None and case.contract and case.expect_skip is None:
                compiled.validate(output)
        except (MappingError, ContractError) as exc:
            error = exc
    result = CaseResult(compiled.name, case.name, True)
    if error is None and hasattr(compiled, "_slow"):
        # The generated fast path and the field-by-field slow path must agree on every case:
        # this catches a compiler fault in the mapping under test, not just in Koppel's own tests.
        with fixed_time(moment):
            twin = compiled._slow(case.input)
        if not same(twin, output):
            return _fail(result, "Koppel fault: compiled and step-by-step evaluation differ\n" + diff(twin, output))
    if case.expect_skip:
        if error is not None:
            return _fail(result, f"expected the record to be skipped, got an error: {_describe(error)}")
        if output is not None:
            return _fail(result, "expected the record to be skipped by `where`, but it was mapped:\n" + _dump(output))
        return result
    if case.expect_error is not None:
        want = case.expect_error
        if error is None and want.kind != "mapping" and getattr(compiled, "contract_warning", None):
            result.skipped = True
            result.detail = compiled.contract_warning
            return result
        if error is None:
            got = "skipped by where" if output is None else "this output:\n" + _dump(output)
            return _fail(result, f"expected an error, got {got}")
        problems = []
        if want.kind and want.kind != ("contract" if isinstance(error, ContractError) else "mapping"):
            problems.append(f"expected a {want.kind} error")
        if want.path is not None and want.path != error.path:
            problems.append(f"expected the error at '{want.path}', it was at '{error.path}'")
        if want.contains is not None and want.contains.lower() not in error.message.lower():
            problems.append(f"expected the reason to contain '{want.contains}'")
        if problems:
            return _fail(result, "; ".join(problems) + f"\n  actual error: {_describe(error)}")
        return result
    if error is not None:
        return _fail(result, f"unexpected error: {_describe(error)}")
    if output is None:
        return _fail(result, "the record was skipped by the mapping's where filter; expected output")
    if not same(case.expect, output):
        return _fail(result, diff(case.expect, output))
    return result


def _fail(result: CaseResult, detail: str) -> CaseResult:
    result.passed = False
    result.detail = detail
    return result


def _describe(error: Exception) -> str:
    kind = "contract" if isinstance(error, ContractError) else "mapping"
    return redact.text(f"{kind} error at {getattr(error, 'path', '') or '(record)'}: {getattr(error, 'message', error)}")


def same(expected: Any, actual: Any) -> bool:
    """Equal as JSON values: true is not 1, but 1 equals 1.0."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and expected.keys() == actual.keys()
                and all(same(v, actual[k]) for k, v in expected.items()))
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(map(same, expected, actual))
    return expected == actual and (expected is None) == (actual is None)


def _dump(value: Any) -> str:
    return json.dumps(redact.data(value), indent=2, ensure_ascii=False, sort_keys=True, default=str)


def diff(expected: Any, actual: Any) -> str:
    """A unified diff of expected and actual output as sorted JSON, BSNs masked."""
    lines = difflib.unified_diff(
        _dump(expected).splitlines(), _dump(actual).splitlines(), "expected", "actual", lineterm="", n=3
    )
    return "\n".join(lines)
