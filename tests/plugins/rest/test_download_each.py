"""The rest download target's ``each``: one file per element of a list in the mapped record
(Intergrip's documents of a dossier: none, one or more), all or nothing per record, and what
``koppel validate`` says about a wrong ``each``, ``to`` or path placeholder."""

from __future__ import annotations

import hashlib
import re

import pytest

import plugins.rest
from plugins.rest import plugin
from runtime.errors import ConfigError, RecordError, TransientError
from runtime.plugin import Item, PluginContext

from .conftest import ROOT, context

BSN = "111222333"  # passes the elfproef: redact masks it wherever it shows


def pdf(document_id: str) -> bytes:
    return f"%PDF-1.4\n% {document_id}\n%%EOF\n".encode()


def each_target(peer, tmp_path, monkeypatch, **download):
    monkeypatch.setenv("KOPPEL_DOCUMENTS_DIR", str(tmp_path))
    spec = plugin.target_spec.model_validate({
        "type": "rest", "system": "intergrip",
        "download": [{"each": "documents", "path": "/dossiers/{dossier}/documenten/{document_id}",
                      "to": "file_name", "name": "documenten", **download}]})
    return plugin.create_target(spec, context(peer.url))


def dossier(dossier_id: str, count: int, **extra) -> Item:
    documents = [{"document_id": f"{dossier_id}-{n}", "file_name": f"{dossier_id}-{n}.pdf"} for n in range(count)]
    return Item(key=dossier_id, source_key=dossier_id, payload={"dossier": dossier_id, "documents": documents, **extra})


def serve(peer, *dossiers: tuple[str, int]) -> None:
    for dossier_id, count in dossiers:
        for n in range(count):
            doc = f"{dossier_id}-{n}"
            peer.route("GET", f"/dossiers/{dossier_id}/documenten/{doc}")(
                lambda r, doc=doc: (200, pdf(doc), {"Content-Type": "application/pdf"}))


def test_none_one_and_three_elements_give_that_many_files_described_in_order(peer, tmp_path, monkeypatch):
    serve(peer, ("D0", 0), ("D1", 1), ("D3", 3))
    target = each_target(peer, tmp_path, monkeypatch)
    none, one, three = target.write([dossier("D0", 0), dossier("D1", 1), dossier("D3", 3)])
    target.close()
    assert none.ok and one.ok and three.ok, (none.error, one.error, three.error)
    assert none.response == {"documenten": []}  # nothing listed, nothing to write back
    assert three.response == {"documenten": [
        {"file_name": f"D3-{n}.pdf", "sha256": hashlib.sha256(pdf(f"D3-{n}")).hexdigest(), "bytes": len(pdf(f"D3-{n}")),
         "item": {"document_id": f"D3-{n}", "file_name": f"D3-{n}.pdf"}} for n in range(3)]}
    assert [e["item"]["document_id"] for e in one.response["documenten"]] == ["D1-0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D1-0.pdf", "D3-0.pdf", "D3-1.pdf", "D3-2.pdf"]
    for name in ("D1-0", "D3-0", "D3-1", "D3-2"):
        assert (tmp_path / f"{name}.pdf").read_bytes() == pdf(name)
    # the path is read in the element over the record: {dossier} is the record's, {document_id} the element's
    assert [r.path for r in peer.requests] == ["/dossiers/D1/documenten/D1-0",
                                               *(f"/dossiers/D3/documenten/D3-{n}" for n in range(3))]


def test_a_file_fetched_twice_is_the_same_file(peer, tmp_path, monkeypatch):
    serve(peer, ("D3", 3))
    target = each_target(peer, tmp_path, monkeypatch)
    [first] = target.write([dossier("D3", 3)])
    [again] = target.write([dossier("D3", 3)])  # a retry or a replay after a crash
    assert first.ok and again.ok and first.response == again.response
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D3-0.pdf", "D3-1.pdf", "D3-2.pdf"]  # no copies, no .part


def test_one_file_that_is_not_found_fails_the_record_naming_it_and_writes_none_of_its_files(peer, tmp_path, monkeypatch):
    serve(peer, ("D1", 1), ("D3", 3))
    peer.fail("/dossiers/D3/documenten/D3-1", status=404, body={"title": "no such document"}, times=-1)
    target = each_target(peer, tmp_path, monkeypatch)
    ok, failed = target.write([dossier("D1", 1), dossier("D3", 3, bsn=BSN)])
    assert ok.ok
    assert isinstance(failed.error, RecordError) and failed.error.code == "404"
    assert str(failed.error).startswith("download documenten 2 of 3: GET /dossiers/D3/documenten/D3-1: HTTP 404")
    assert BSN not in str(failed.error)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D1-0.pdf"]  # D3-0 was fetched, but not written alone


def test_a_server_error_on_one_file_is_transient_for_that_record_and_the_retry_fetches_them_all(peer, tmp_path, monkeypatch):
    serve(peer, ("D3", 3))
    peer.fail("/dossiers/D3/documenten/D3-2", status=500, times=1)
    target = each_target(peer, tmp_path, monkeypatch)
    [failed] = target.write([dossier("D3", 3)])
    assert isinstance(failed.error, TransientError) and "download documenten 3 of 3" in str(failed.error)
    assert list(tmp_path.iterdir()) == []
    [retried] = target.write([dossier("D3", 3)])
    assert retried.ok and len(retried.response["documenten"]) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D3-0.pdf", "D3-1.pdf", "D3-2.pdf"]


def test_another_schools_document_stops_the_run_as_the_credentials_do(peer, tmp_path, monkeypatch):
    serve(peer, ("D1", 1))
    peer.fail("/dossiers/D1/documenten/D1-0", status=403, body={"title": "another school"}, times=-1)
    target = each_target(peer, tmp_path, monkeypatch)
    with pytest.raises(ConfigError, match=r"download documenten 1 of 1: GET /dossiers/D1/documenten/D1-0: HTTP 403"):
        target.write([dossier("D1", 1)])


def test_a_list_that_is_not_one_an_element_that_is_no_object_or_two_files_of_one_name(peer, tmp_path, monkeypatch):
    serve(peer, ("D2", 2))
    target = each_target(peer, tmp_path, monkeypatch)
    absent = Item(key="A", source_key="A", payload={"dossier": "A"})
    not_a_list = Item(key="B", source_key="B", payload={"dossier": "B", "documents": "D2-0"})
    not_objects = Item(key="C", source_key="C", payload={"dossier": "C", "documents": ["D2-0"]})
    same_name = dossier("D2", 2)
    same_name.payload["documents"][1]["file_name"] = "D2-0.pdf"
    escape = dossier("D2", 1)
    escape.payload["documents"][0]["file_name"] = "../D2-0.pdf"
    no_id = Item(key="E", source_key="E", payload={"dossier": "E", "documents": [{"file_name": "E.pdf"}]})
    outcomes = target.write([absent, not_a_list, not_objects, same_name, escape, no_id])
    assert outcomes[0].ok and outcomes[0].response == {"documenten": []}
    assert "'documents' must give a list, not str" in str(outcomes[1].error)
    assert "download documenten 1 of 1: each element of 'documents' must be an object" in str(outcomes[2].error)
    assert "download documenten 2 of 2: 'file_name' gives D2-0.pdf for two files of this record" in str(outcomes[3].error)
    assert "download documenten 1 of 1: 'file_name' must give a plain file name" in str(outcomes[4].error)
    assert "download documenten 1 of 1: the path /dossiers/{dossier}/documenten/{document_id} needs 'document_id'" \
        in str(outcomes[5].error)
    # only the first file of two of one name was asked for; the others failed before any call
    assert [r.path for r in peer.requests] == ["/dossiers/D2/documenten/D2-0"]
    assert list(tmp_path.iterdir()) == []


def test_dry_run_shows_one_get_per_element(peer, tmp_path, monkeypatch):
    target = each_target(peer, tmp_path, monkeypatch)
    shown = target.render(dossier("D2", 2))
    assert shown.splitlines() == ["GET /dossiers/D2/documenten/D2-0  → ${documents}/D2-0.pdf",
                                  "GET /dossiers/D2/documenten/D2-1  → ${documents}/D2-1.pdf"]
    assert target.render(dossier("D0", 0)) == "(no file to fetch)"
    assert peer.requests == []


def test_a_plain_download_and_one_with_each_in_one_target(peer, tmp_path, monkeypatch):
    serve(peer, ("D1", 1))
    peer.route("GET", "/dossiers/D1/samenvatting")(lambda r: (200, pdf("sum"), {"Content-Type": "application/pdf"}))
    monkeypatch.setenv("KOPPEL_DOCUMENTS_DIR", str(tmp_path))
    spec = plugin.target_spec.model_validate({"type": "rest", "system": "intergrip", "download": [
        {"path": "/dossiers/{dossier}/samenvatting", "to": "summary_name", "name": "samenvatting"},
        {"each": "documents", "path": "/dossiers/{dossier}/documenten/{document_id}", "to": "file_name", "name": "documenten"}]})
    target = plugins.rest.plugin.create_target(spec, context(peer.url))
    [outcome] = target.write([dossier("D1", 1, summary_name="D1-samenvatting.pdf")])
    assert outcome.ok, outcome.error
    assert outcome.response["samenvatting"]["file_name"] == "D1-samenvatting.pdf"
    assert [e["file_name"] for e in outcome.response["documenten"]] == ["D1-0.pdf"]


# --- koppel validate ------------------------------------------------------------------------------


def _check(root, **spec):
    model = plugin.target_spec.model_validate({"type": "rest", **spec})
    return plugin.check(model, PluginContext(environment="sandbox", project_root=root))


def test_the_check_reads_each_to_and_the_path_in_the_targets_mapping() -> None:
    good = {"each": "documents", "path": "/documenten/{document_id}", "to": "file_name", "name": "documenten"}
    assert _check(ROOT, mapping="intergrip-dossier-pdf", download=[good]) == []
    assert _check(ROOT, mapping="intergrip-dossier-pdf", download=[{**good, "each": "lob_documents"}]) == [
        (("download", 0, "each"), "'lob_documents' is not a field of the output of mapping intergrip-dossier-pdf "
                                  "(did you mean 'documents'?)")]
    assert _check(ROOT, mapping="intergrip-dossier-pdf", download=[{**good, "to": "filename"}]) == [
        (("download", 0, "to"), "'filename' is not a field of an element of 'documents' nor of the output of mapping "
                                "intergrip-dossier-pdf (did you mean 'file_name'?)")]
    assert _check(ROOT, mapping="intergrip-dossier-pdf", download=[{**good, "path": "/documenten/{documentId}"}]) == [
        (("download", 0, "path"), "{documentId} is not a field of an element of 'documents' nor of the output of "
                                  "mapping intergrip-dossier-pdf (did you mean 'document_id'?)")]
    # a field that is not a list; two downloads of one name
    problems = _check(ROOT, mapping="signhost-ondertekend", download=[
        {**good, "each": "signed_name"}, {"path": "/x/{file_id}", "to": "signed_name", "name": "documenten"}])
    assert [loc for loc, _ in problems] == [("download", 1, "name"), ("download", 0, "each")]
    assert "'signed_name' in mapping signhost-ondertekend is not a list" in problems[1][1]
    # an expression, or no mapping of the target's own, is left to the run
    assert _check(ROOT, mapping="intergrip-dossier-pdf", download=[{**good, "each": "documents[?x]"}]) == []
    assert _check(ROOT, download=[{**good, "each": "lob_documents"}]) == []


def test_koppel_validate_names_file_line_and_column_of_a_wrong_each(project_copy) -> None:
    from click.testing import CliRunner

    from runtime.cli import main

    file = "interfaces/10-intergrip-doorstroomdossier.yaml"
    path = project_copy / file
    text = path.read_text(encoding="utf-8")
    assert "- each: documents " in text
    path.write_text(text.replace("- each: documents ", "- each: lob_documents "), encoding="utf-8")
    line = next(n for n, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "lob_documents" in row)
    column = path.read_text(encoding="utf-8").splitlines()[line - 1].index("each:") + 1  # at the field's key
    result = CliRunner().invoke(main, ["--project", str(project_copy), "validate"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    wanted = (f"{file}:{line}:{column}: targets[1].download[0].each: 'lob_documents' is not a field of the output "
              "of mapping intergrip-dossier-pdf (did you mean 'documents'?)")
    assert wanted in result.output.splitlines(), result.output
    assert not re.search(r"\b\d{9}\b", result.output)  # no BSN-like number in what validate says
