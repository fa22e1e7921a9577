"""The check-only Builder's findings are kept per mapping file (runtime/mapping/check.py, in
``koppel validate``, with the parses): found again only while the file, the mapping engine's code
and every value map the mapping asked for read as they did. Whatever is kept, the diagnostics are
those of a check that keeps nothing."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from runtime import yamlsource
from runtime.cli.validate_cache import Artifacts
from runtime.mapping import check
from runtime.mapping.engine import Builder

MAP = "name: m\ncodes:\n  a: A\n  b: B\ndefault: Z\n"
USES = "name: {name}\noutput:\n  code: {{expr: \"code\", valuemap: {map}, fallback: default}}\n  bad: \"length(\"\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "mappings" / "valuemaps").mkdir(parents=True)
    (root / "mappings" / "valuemaps" / "m.yaml").write_text(MAP, encoding="utf-8")
    (root / "mappings" / "valuemaps" / "other.yaml").write_text("name: other\ncodes: {x: X}\n", encoding="utf-8")
    for name in ("a", "b"):  # b finds m loaded by a
        (root / "mappings" / f"{name}.yaml").write_text(USES.format(name=name, map="m"), encoding="utf-8")
    return root


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """The mappings the Builder compiled; the parse store of this test's own."""
    monkeypatch.setattr(yamlsource, "artifacts", Artifacts(tmp_path / "cache" / "artifacts"))
    built: list[str] = []
    real = Builder.build

    def build(self, data):  # noqa: ANN001, ANN202
        built.append(data.get("name"))
        return real(self, data)

    monkeypatch.setattr(Builder, "build", build)
    return built


def _check(root: Path) -> list[str]:
    return [str(d) for d in check.check_mappings(types.SimpleNamespace(root=root))]


def _uncached(root: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    with monkeypatch.context() as m:
        m.setattr(yamlsource, "artifacts", None)
        return _check(root)


def test_the_second_check_compiles_nothing_and_says_the_same(project: Path, builds: list[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    first = _check(project)
    assert builds == ["a", "b"] and any("length(" in line for line in first)
    builds.clear()
    again = _check(project)
    assert builds == []
    assert again == first == _uncached(project, monkeypatch)


def test_an_edited_value_map_compiles_its_mappings_again(project: Path, builds: list[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _check(project)
    builds.clear()
    (project / "mappings" / "valuemaps" / "m.yaml").write_text(MAP.replace("default: Z\n", ""), encoding="utf-8")
    edited = _check(project)
    assert builds == ["a", "b"], "b took m from a in the first check: it depends on m all the same"
    assert sum("neither this field nor value map 'm' has a default" in line for line in edited) == 2
    assert edited == _uncached(project, monkeypatch)


def test_a_missing_value_map_is_kept_with_the_names_there_are(project: Path, builds: list[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "mappings" / "a.yaml").write_text(USES.format(name="a", map="mm"), encoding="utf-8")
    first = _check(project)
    assert any("unknown value map 'mm'" in line and "known: m, other" in line for line in first)
    builds.clear()
    assert _check(project) == first and builds == []
    (project / "mappings" / "valuemaps" / "third.yaml").write_text("name: third\ncodes: {x: X}\n", encoding="utf-8")
    listed = _check(project)
    assert builds == ["a"] and any("known: m, other, third" in line for line in listed)
    assert listed == _uncached(project, monkeypatch)
    (project / "mappings" / "valuemaps" / "mm.yaml").write_text(MAP.replace("name: m", "name: mm"), encoding="utf-8")
    builds.clear()
    found = _check(project)
    assert builds == ["a"] and not any("unknown value map" in line for line in found)
    assert found == _uncached(project, monkeypatch)


def test_an_edited_mapping_is_compiled_again_alone(project: Path, builds: list[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _check(project)
    builds.clear()
    (project / "mappings" / "b.yaml").write_text(USES.format(name="b", map="m").replace('"length("', '"code"'),
                                                 encoding="utf-8")
    edited = _check(project)
    assert builds == ["b"]
    assert edited == _uncached(project, monkeypatch) and sum("length(" in line for line in edited) == 1


def test_without_a_store_nothing_is_kept(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsource, "artifacts", None)
    built: list[str] = []
    real = Builder.build
    monkeypatch.setattr(Builder, "build", lambda self, data: built.append(data["name"]) or real(self, data))
    _check(project)
    _check(project)
    assert built == ["a", "b", "a", "b"]
