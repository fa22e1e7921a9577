"""``koppel run N`` validates interface N with a model over just the plugins it names
(runtime/models/interface.py ``plugins_used``); ``koppel validate`` with the model over all of
them. Both must say the same of every file: the same interface when it is valid, and the same
messages at the same places when it is not (an unknown type still lists every known one)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from runtime import project as loader
from runtime.models.interface import interface_model, plugins_used
from runtime.registry import registry
from runtime.yamlsource import load_file

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "interfaces").glob("*.yaml"))


def _first_source(data: dict) -> dict:
    return data["source"] if data.get("source") is not None else data["sources"][0]


def _broken(data: dict) -> dict[str, dict]:
    """What a user gets wrong in an interface file, one mistake per copy."""
    cases: dict[str, dict] = {}

    def case(name: str, change) -> None:
        changed = copy.deepcopy(data)
        change(changed)
        cases[name] = changed

    case("unknown source field", lambda d: _first_source(d).update(bogus_field=1))
    case("unknown target type", lambda d: d["targets"][0].update(type="ftp"))
    case("target without type", lambda d: d["targets"][0].pop("type"))
    case("source-only plugin as target", lambda d: d["targets"][0].update(type="webhook"))
    case("source of another plugin's type",
         lambda d: _first_source(d).update(type="soap" if _first_source(d).get("type") != "soap" else "rest"))
    case("wrong value in a target", lambda d: d["targets"][0].update(system=5))
    case("no targets", lambda d: d.update(targets=[]))
    case("targets not a list", lambda d: d.update(targets={"type": "db"}))
    case("both source and sources", lambda d: d.update(source=_first_source(d), sources=[copy.deepcopy(_first_source(d))]))
    return cases


def _diagnostics(doc, model) -> tuple[list, object]:
    project = loader.Project(ROOT)
    result = loader._validate(doc, model, project)
    return [(d.file, d.line, d.column, d.path, d.message) for d in project.diagnostics], result


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_the_model_of_its_own_plugins_says_what_the_whole_one_says(path: Path) -> None:
    reg = registry()
    whole = interface_model(reg)
    doc = load_file(path, f"interfaces/{path.name}")
    own = interface_model(plugins_used(doc.data, reg))
    expected, interface = _diagnostics(doc, whole)
    got, ours = _diagnostics(doc, own)
    assert got == expected == []
    assert ours.model_dump() == interface.model_dump()
    for name, data in _broken(doc.data).items():
        broken = loader.Located(doc.file, data, doc.positions, doc.key_positions)
        expected, _ = _diagnostics(broken, whole)
        got, _ = _diagnostics(broken, interface_model(plugins_used(data, reg)))
        assert expected, name
        assert got == expected, name


def test_a_db_interface_builds_its_model_over_the_db_plugin_alone() -> None:
    doc = load_file(ROOT / "interfaces" / "00-sis-datalaag.yaml")
    assert plugins_used(doc.data, registry()).names() == ["db"]
    assert plugins_used(doc.data, registry()) is plugins_used(doc.data, registry())  # built once
