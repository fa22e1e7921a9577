"""``koppel run N`` loads and checks catalog.yaml, interface N and the mappings and value maps it
uses, nothing else: a broken file of another interface neither stops it nor is read at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime import yamlsource
from runtime.project import load_project

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def broken(project_copy) -> Path:
    """The project (tests/conftest.py's copy) with another interface, a mapping of another
    interface and nothing else broken."""
    (project_copy / "interfaces" / "26-toetsresultaten.yaml").write_text("id: 26\nsource: [unclosed\n", encoding="utf-8")
    (project_copy / "mappings" / "eckid-vervangen.yaml").write_text("name: eckid-vervangen\noutput: {x: 'a +'}\n",
                                                                 encoding="utf-8")
    return project_copy


def _reads(monkeypatch, root: Path, only):
    read: list[str] = []
    original = yamlsource.load_file

    def spy(path, display=None):
        read.append(str(Path(path).resolve().relative_to(root.resolve())))
        return original(path, display)

    monkeypatch.setattr(yamlsource, "load_file", spy)
    for module in ("runtime.project", "runtime.mapping.check", "runtime.crossrefs", "runtime.fieldcheck"):
        monkeypatch.setattr(f"{module}.load_file", spy, raising=False)
    return load_project(root, only=only), read


def test_the_whole_project_reports_both_broken_files(broken):
    files = {d.file for d in load_project(broken).diagnostics}
    assert {"interfaces/26-toetsresultaten.yaml", "mappings/eckid-vervangen.yaml"} <= files


def test_run_of_another_interface_reads_neither_broken_file(monkeypatch, broken):
    project, read = _reads(monkeypatch, broken, ["0"])
    assert project.diagnostics == []
    assert sorted(project.interfaces) == [0]
    assert "interfaces/00-sis-datalaag.yaml" in read
    assert "catalog.yaml" in read
    assert not [f for f in read if f.startswith("interfaces/") and f != "interfaces/00-sis-datalaag.yaml"]
    assert not [f for f in read if f.startswith("mappings/tests/")]
    assert "mappings/eckid-vervangen.yaml" not in read
    # every interface file is still known by name, so catalog rows and `koppel run 26` resolve
    assert len(project.interface_paths) == len(list((broken / "interfaces").glob("*.yaml")))


def test_run_by_file_stem_loads_that_interface_and_its_mappings(monkeypatch, broken):
    project, read = _reads(monkeypatch, broken, ["13-eckid"])
    assert sorted(project.interfaces) == [13]
    assert {"mappings/eckid-aanvraag.yaml", "mappings/eckid-terugschrijven.yaml"} <= set(read)
    # 13 uses the broken mapping itself: the run is stopped with that file's diagnostic
    assert {d.file for d in project.diagnostics} == {"mappings/eckid-vervangen.yaml"}


@pytest.mark.parametrize("ref", ["26", "26-toetsresultaten"])
def test_running_an_interface_whose_own_file_is_broken_names_that_files_problem(broken, ref):
    """Not "unknown interface '26'": the interface is there, its file is wrong, and the user is told where."""
    from click.testing import CliRunner

    from runtime.cli import main

    result = CliRunner().invoke(main, ["--project", str(broken), "run", ref])
    assert result.exit_code != 0
    assert "unknown interface" not in result.output
    assert result.output.startswith("interfaces/26-toetsresultaten.yaml:3:1: not valid YAML"), result.output
    assert "1 problem in the definitions" in result.output
