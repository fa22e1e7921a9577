"""Facet and TOA as stand-ins: candidate files in, QTI 2.2 results out (checked against the XSD)."""

from __future__ import annotations

import json

import pytest

from plugins.codecs import read_records
from plugins.formats import XmlFormat
from sandbox.sftp.partners import ResultProducer


def test_candidates_become_qti_results_that_pass_the_public_xsd(tmp_path, project_root):
    from runtime.paths import specs_dir

    (tmp_path / "facet/kandidaten").mkdir(parents=True)
    (tmp_path / "toa/import").mkdir(parents=True)
    (tmp_path / "facet/kandidaten/kandidaten-1.csv").write_bytes(
        "kandidaatnummer;achternaam;examencode;examendatum\r\nS100001;Jansen-Ñúñez;NL-2F;03-06-2026\r\n".encode("cp1252"))
    (tmp_path / "facet/kandidaten/.kandidaten-2.csv.koppel-part").write_text("half a file")
    (tmp_path / "toa/import/toa-1.json").write_text(json.dumps([
        {"studentnummer": "S100002", "importlabel": "toevoegen", "toets": {"code": "EN-B1", "datum": "2026-06-04"}},
        {"studentnummer": "S100003", "importlabel": "deactiveren", "toets": {"code": "EN-B1", "datum": "2026-06-04"}},
    ]))
    producer = ResultProducer({"facet": tmp_path / "facet", "toa": tmp_path / "toa"})
    assert producer.process_once() == 2
    assert producer.process_once() == 0, "a candidate file is read once"
    assert (tmp_path / "facet/kandidaten/verwerkt/kandidaten-1.csv").exists()
    assert (tmp_path / "facet/kandidaten/.kandidaten-2.csv.koppel-part").exists(), "uploads in progress are left alone"

    xsd = specs_dir(project_root) / "qti-results" / "imsqti_result_v2p2.xsd"
    fmt = XmlFormat(type="xml", record="assessmentResult",
                    xsd="${specs}/qti-results/imsqti_result_v2p2.xsd" if xsd.exists() else None)
    [facet] = list((tmp_path / "facet/resultaten").glob("*.xml"))
    with facet.open("rb") as f:
        [record] = list(read_records(fmt, f, project_root=project_root))
    assert record["context"]["@sourcedId"] == "S100001"
    assert record["context"]["sessionIdentifier"]["@sourceID"] == "facet"
    assert record["testResult"]["@identifier"] == "NL-2F"
    assert {v["@identifier"] for v in record["testResult"]["outcomeVariable"]} == {"SCORE", "PASSED"}
    assert [p.name for p in (tmp_path / "toa/export").glob("*.xml")] == ["toa-S100002-EN-B1-20260604.xml"]


def test_an_unreadable_candidate_file_is_rejected_with_a_reason(tmp_path):
    (tmp_path / "toa/import").mkdir(parents=True)
    (tmp_path / "toa/import/kapot.json").write_text("{niet: json")
    assert ResultProducer({"toa": tmp_path / "toa"}).process_once() == 0
    assert (tmp_path / "toa/import/afgekeurd/kapot.json").exists()
    assert "JSONDecodeError" in (tmp_path / "toa/import/afgekeurd/kapot.json.reden.txt").read_text()
