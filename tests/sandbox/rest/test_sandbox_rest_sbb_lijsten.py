"""SBB's kwalificatiestructuur lists (interface 9): XLSX per publication, the code column named as
that year named it, keuzedelen kept; read by the rest plugin and the interface's own mapping."""

from __future__ import annotations

import io

import pytest
from standin_helpers import PROJECT, client

from runtime.mapping import load_mapping
from runtime.plugin import PluginContext
from sandbox.rest.sbb_lijsten import KEUZEDELEN, PUBLICATIONS
from sandbox.runner import Sandbox


@pytest.fixture(scope="module")
def lists():
    with Sandbox(PROJECT, names=["sbb-lijsten"], free_ports=True, include_services=False) as box:
        yield box


def sheet_rows(content: bytes) -> list[tuple]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(content), read_only=True)
    return list(book["Crebolijst"].iter_rows(values_only=True))


@pytest.mark.parametrize("output_id, column", [(52000, "Crebonummer"), (55000, "Erkende opleidingscode"),
                                               (58500, "Opleidingscode")])
def test_each_publication_names_its_code_column_as_that_year_did(lists, output_id, column):
    r = client.get(f"{lists.url('sbb-lijsten')}/Lijsten/Output/{output_id}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    rows = sheet_rows(r.content)
    assert rows[0][0].startswith(f"Crebolijst {PUBLICATIONS[output_id][0]}") and rows[2] == (None,) * len(rows[2])
    assert rows[3][0] == column and rows[3][7] == "Soort opleiding"
    kinds = [row[7] for row in rows[4:]]
    assert kinds.count("Keuzedeel") == len(KEUZEDELEN) and kinds.count("Kwalificatie") == len(kinds) - len(KEUZEDELEN)


def test_an_unknown_output_is_sbbs_404_page(lists):
    r = client.get(f"{lists.url('sbb-lijsten')}/Lijsten/Output/1")
    assert r.status_code == 404 and "niet gevonden" in r.text


@pytest.mark.parametrize("output_id", sorted(PUBLICATIONS))
def test_the_interface_reads_every_years_list_with_its_keuzedelen(lists, output_id):
    from plugins.rest import plugin
    from runtime.sis.seed import catalogue

    spec = plugin.source_spec.model_validate({
        "type": "rest", "system": "sbb-lijsten", "path": f"/Lijsten/Output/{output_id}",
        "key": "Opleidingscode || \"Erkende opleidingscode\" || Crebonummer",
        "format": {"type": "xlsx", "sheet": "Crebolijst", "header_row": 4},
    })
    ctx = PluginContext(environment="sandbox", project_root=PROJECT, system_name="sbb-lijsten",
                        system=lists.context("sbb-lijsten").settings, options={})
    source = plugin.create_source(spec, ctx)
    records = [r for b in source.read(None) for r in b.records]
    source.close()
    mapping = load_mapping(PROJECT, "sbb-kwalificatie")
    mapped = [out for out in (mapping(r.data) for r in records) if out is not None]
    by_kind: dict[str, list[dict]] = {}
    for out in mapped:
        by_kind.setdefault(out["kind"], []).append(out)
    assert sorted(q["crebo"] for q in by_kind["kwalificatie"]) == sorted(q[0] for q in catalogue.qualification_rows())
    assert sorted(q["crebo"] for q in by_kind["keuzedeel"]) == sorted(k[0] for k in KEUZEDELEN)
    first = next(q for q in by_kind["kwalificatie"] if q["crebo"] == catalogue.qualification_rows()[0][0])
    assert first["level"] == catalogue.qualification_rows()[0][2] and first["valid_from"] == "2024-08-01"
    assert isinstance(first["price_factor"], float | int) and first["valid_until"] is None
