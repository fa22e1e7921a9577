"""`koppel catalog` and `koppel docs`: the overview exactly as the college wrote it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "000_eeeb7a0a2f6c00d8.txt"


def koppel(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli.__main__", "--project", str(root), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def parse_overview(text: str) -> dict[int, dict]:
    """The seed's table: a row starts with a tab and 'N. '; each cell starts with a tab, and lines
    without a tab continue the cell before them."""
    rows: dict[int, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for line in text.splitlines():
        if m := re.match(r"^\t(\d+)\. ?$", line):
            current = rows.setdefault(int(m.group(1)), [])
        elif current is None:
            continue
        elif line.startswith("\t"):
            current.append([line[1:].strip()])
        elif line.strip():
            current[-1].append(line.strip())
    out = {}
    for number, cells in rows.items():
        from_, to, objects, type_ = cells[0], cells[1], cells[2], cells[3]
        out[number] = {
            "from": " ".join(from_),
            "to": " ".join(to),
            "objects": objects,
            "type": " ".join(type_),
        }
    return out


def test_catalog_json_matches_the_colleges_overview(project_root: Path) -> None:
    if not SEED.exists():
        pytest.skip(f"the college's overview is not at {SEED}")
    result = koppel(project_root, "catalog", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    interfaces = data["interfaces"]
    assert [i["id"] for i in interfaces] == list(range(28))
    overview = parse_overview(SEED.read_text(encoding="utf-8"))
    assert sorted(overview) == list(range(28))
    for item in interfaces:
        expected = overview[item["id"]]
        got = {k: item[k] for k in ("from", "to", "objects", "type")}
        assert got == expected, f"interface {item['id']}"


def test_every_interface_has_how_koppel_runs_it(project_root: Path) -> None:
    data = json.loads(koppel(project_root, "catalog", "--format", "json").stdout)
    for item in data["interfaces"]:
        assert item["koppel"]["status"] in ("active", "planned")
        assert item["koppel"]["type"] in ("batch", "realtime")
    planned = [i["id"] for i in data["interfaces"] if i["koppel"]["status"] == "planned"]
    assert planned == [20]


def test_table_markdown_and_mermaid(project_root: Path) -> None:
    table = koppel(project_root, "catalog").stdout
    assert len([line for line in table.splitlines() if re.match(r"^\d+\s", line)]) == 28
    md = koppel(project_root, "catalog", "--format", "markdown").stdout
    assert md.count("\n| ") >= 28 + 24
    mermaid = koppel(project_root, "catalog", "--format", "mermaid").stdout
    assert mermaid.startswith("flowchart LR")
    assert 'sis -.->|"20: Aanmeldingen"| crm' in mermaid  # planned: dotted
    assert 'kennisnet' in mermaid


def test_docs_are_generated_from_the_catalog(project_copy: Path) -> None:
    result = koppel(project_copy, "docs")
    assert result.returncode == 0, result.stderr
    catalog_md = (project_copy / "docs" / "catalog.md").read_text()
    architecture = (project_copy / "docs" / "architecture.md").read_text()
    assert "Kennisnet Nummer-voorziening" in catalog_md
    assert "```mermaid" in architecture
    # the picture follows the catalog: rename a system and it changes
    path = project_copy / "catalog.yaml"
    path.write_text(path.read_text().replace("name: Signhost", "name: Signhost (Entrust)"))
    koppel(project_copy, "docs")
    assert "Signhost (Entrust)" in (project_copy / "docs" / "architecture.md").read_text()


def test_catalog_holds_no_secret_values(project_root: Path) -> None:
    """Every auth field is a reference: a value would have failed validation, but a stray
    password in a DSN or an option would not, so look for the shapes of secrets too."""
    text = (project_root / "catalog.yaml").read_text()
    for line in text.splitlines():
        if re.search(r"(token|secret|password|key)\s*:", line, re.I) and ":" in line:
            value = line.split(":", 1)[1].strip()
            if value and not value.startswith(("${", "/", "var/", "http")) and value not in ("", "X-Signature"):
                assert not re.fullmatch(r"[A-Za-z0-9+/=_-]{16,}", value), line


def test_committed_docs_are_what_koppel_docs_writes(project_root: Path, tmp_path: Path) -> None:
    """docs/ is generated; a catalog change without `koppel docs` would leave it behind."""
    result = koppel(project_root, "docs", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for name in ("catalog.md", "architecture.md"):
        committed = (project_root / "docs" / name).read_text(encoding="utf-8")
        assert committed == (tmp_path / name).read_text(encoding="utf-8"), f"docs/{name} is stale: run `koppel docs`"
