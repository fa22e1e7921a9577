"""The rest plugin's download target (files into the SIS's document folder) and its system_fields."""

from __future__ import annotations

import hashlib

import pytest

import plugins.rest
from runtime.errors import ConfigError, TransientError
from runtime.plugin import Item

from .conftest import context

PDF = b"%PDF-1.4\n% ondertekend\n%%EOF\n"
RECEIPT = b"%PDF-1.4\n% ontvangstbewijs\n%%EOF\n"


def download_target(peer, tmp_path, monkeypatch, **extra):
    monkeypatch.setenv("KOPPEL_DOCUMENTS_DIR", str(tmp_path))
    spec = plugins.rest.plugin.target_spec.model_validate({
        "type": "rest", "system": "signhost",
        "download": [{"name": "signed", "path": "/transaction/{sign_transaction_id}/file/{file_id}", "to": "signed_name"},
                     {"name": "receipt", "path": "/file/receipt/{sign_transaction_id}", "to": "receipt_name"}],
        **extra})
    return plugins.rest.plugin.create_target(spec, context(peer.url))


def item(key: str = "DOC1", **payload) -> Item:
    return Item(key=key, source_key=key, payload={"sign_transaction_id": "tx 1", "file_id": "DOC1.pdf",
                                                 "signed_name": "DOC1-ondertekend.pdf",
                                                 "receipt_name": "DOC1-ontvangstbewijs.pdf", **payload})


def serve(peer, receipt=(200, RECEIPT, {"Content-Type": "application/pdf"})):
    peer.route("GET", "/transaction/tx%201/file/DOC1.pdf")(lambda r: (200, PDF, {"Content-Type": "application/pdf"}))
    peer.route("GET", "/file/receipt/tx%201")(lambda r: receipt)


def test_both_files_land_in_the_documents_folder_and_the_answer_describes_them(peer, tmp_path, monkeypatch):
    serve(peer)
    target = download_target(peer, tmp_path, monkeypatch)
    [outcome] = target.write([item()])
    target.close()
    assert outcome.ok, outcome.error
    assert (tmp_path / "DOC1-ondertekend.pdf").read_bytes() == PDF
    assert (tmp_path / "DOC1-ontvangstbewijs.pdf").read_bytes() == RECEIPT
    assert outcome.response == {
        "signed": {"file_name": "DOC1-ondertekend.pdf", "sha256": hashlib.sha256(PDF).hexdigest(), "bytes": len(PDF)},
        "receipt": {"file_name": "DOC1-ontvangstbewijs.pdf", "sha256": hashlib.sha256(RECEIPT).hexdigest(),
                    "bytes": len(RECEIPT)}}
    assert [r.path for r in peer.requests] == ["/transaction/tx%201/file/DOC1.pdf", "/file/receipt/tx%201"]
    assert not list(tmp_path.glob(".*.part"))


def test_a_record_gets_no_file_unless_it_gets_all_of_them(peer, tmp_path, monkeypatch):
    serve(peer, receipt=(404, {"Message": "receipt not found."}, {}))
    target = download_target(peer, tmp_path, monkeypatch)
    [outcome] = target.write([item()])
    assert outcome.error.error_class == "record"
    assert list(tmp_path.iterdir()) == []  # the signed PDF was fetched, but not written alone


def test_another_content_type_or_a_path_as_file_name_is_that_records_error(peer, tmp_path, monkeypatch):
    serve(peer, receipt=(200, "<html>login</html>", {"Content-Type": "text/html"}))
    target = download_target(peer, tmp_path, monkeypatch)
    wrong_type, escape = target.write([item(), item("DOC2", signed_name="../DOC2.pdf")])
    assert "the answer is text/html, not application/pdf" in str(wrong_type.error)
    assert "must give a plain file name" in str(escape.error)
    assert list(tmp_path.iterdir()) == [] and not (tmp_path.parent / "DOC2.pdf").exists()


def test_a_server_error_is_transient_for_that_record(peer, tmp_path, monkeypatch):
    serve(peer)
    peer.fail("/transaction", status=503, times=10)
    target = download_target(peer, tmp_path, monkeypatch)
    [outcome] = target.write([item()])
    assert isinstance(outcome.error, TransientError)


def test_system_fields_fill_the_payload_per_environment(peer):
    peer.route("POST", "/transaction")(lambda r: (200, {"Id": "tx", "echo": r.json()}))
    spec = plugins.rest.plugin.target_spec.model_validate({
        "type": "rest", "system": "signhost", "method": "POST", "path": "/transaction",
        "system_fields": {"transaction.PostbackUrl": "postback_url"}})
    target = plugins.rest.plugin.create_target(spec, context(peer.url, options={"postback_url": "https://k.example/hooks"}))
    own, filled = target.write([
        Item(key="a", source_key="a", payload={"transaction": {"Reference": "A", "PostbackUrl": "https://own/"}}),
        Item(key="b", source_key="b", payload={"transaction": {"Reference": "B"}})])
    assert own.response["echo"]["transaction"]["PostbackUrl"] == "https://own/"  # the mapping's value wins
    assert filled.response["echo"]["transaction"]["PostbackUrl"] == "https://k.example/hooks"
    assert "https://k.example/hooks" in target.render(Item(key="c", source_key="c", payload={"transaction": {}}))
    missing = plugins.rest.plugin.create_target(spec, context(peer.url))
    with pytest.raises(ConfigError, match=r"set options\.postback_url for environment 'sandbox'"):
        missing.write([Item(key="a", source_key="a", payload={"transaction": {}})])
