"""TOA as a stand-in: CSV user imports with import labels in, QTI 2.2 results out (checked against the XSD)."""

from __future__ import annotations

from plugins.codecs import read_records
from plugins.formats import XmlFormat
from sandbox.sftp.partners import ResultProducer


def test_candidates_become_qti_results_that_pass_the_public_xsd(tmp_path, project_root):
    from runtime.paths import specs_dir

    (tmp_path / "toa/import").mkdir(parents=True)
    (tmp_path / "toa/import/toa-1.csv").write_bytes(
        "importlabel;studentnummer;achternaam;toetscode;toetsdatum\r\n"
        "toevoegen;S100002;Jansen-Ñúñez;EN-B1;2026-06-04\r\n"
        "deactiveren;S100003;Bakker;EN-B1;2026-06-04\r\n".encode())
    (tmp_path / "toa/import/.toa-2.csv.koppel-part").write_text("half a file")
    producer = ResultProducer({"toa": tmp_path / "toa", "facet": tmp_path / "facet"})
    assert set(producer.base_dirs) == {"toa"}, "Facet has no SFTP drop: no partner reads its folder"
    assert producer.process_once() == 1
    assert producer.process_once() == 0, "a candidate file is read once"
    assert (tmp_path / "toa/import/verwerkt/toa-1.csv").exists()
    assert (tmp_path / "toa/import/.toa-2.csv.koppel-part").exists(), "uploads in progress are left alone"

    xsd = specs_dir(project_root) / "qti-results" / "imsqti_result_v2p2.xsd"
    fmt = XmlFormat(type="xml", record="assessmentResult",
                    xsd="${specs}/qti-results/imsqti_result_v2p2.xsd" if xsd.exists() else None)
    [result] = list((tmp_path / "toa/export").glob("*.xml"))
    assert result.name == "toa-S100002-EN-B1-20260604.xml"
    with result.open("rb") as f:
        [record] = list(read_records(fmt, f, project_root=project_root))
    assert record["context"]["@sourcedId"] == "S100002"
    assert record["context"]["sessionIdentifier"]["@sourceID"] == "toa"
    assert record["testResult"]["@identifier"] == "EN-B1"
    assert {v["@identifier"] for v in record["testResult"]["outcomeVariable"]} == {"SCORE", "PASSED"}


def test_an_unreadable_candidate_file_is_rejected_with_a_reason(tmp_path):
    (tmp_path / "toa/import").mkdir(parents=True)
    (tmp_path / "toa/import/kapot.csv").write_text("importlabel;studentnummer;toetscode;toetsdatum\nverplaatsen;S1;X;2026-06-04\n")
    (tmp_path / "toa/import/zonder-kolom.csv").write_text("importlabel;studentnummer\ntoevoegen;S1\n")
    assert ResultProducer({"toa": tmp_path / "toa"}).process_once() == 0
    assert "unknown importlabel 'verplaatsen'" in (tmp_path / "toa/import/afgekeurd/kapot.csv.reden.txt").read_text()
    assert "KeyError" in (tmp_path / "toa/import/afgekeurd/zonder-kolom.csv.reden.txt").read_text()
