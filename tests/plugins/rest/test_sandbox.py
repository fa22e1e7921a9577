"""The rest plugin against the project's own stand-ins (sandbox/rest): Exact and Signhost, as
interfaces 21 and 14 use them, with the catalog's sandbox settings."""

from __future__ import annotations

import shutil

import pytest

from plugins.rest import plugin
from runtime.plugin import Item, PluginContext

from .conftest import ROOT

Sandbox = pytest.importorskip("sandbox.runner").Sandbox


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    # A copy of the settings, so that the rotating Exact refresh token lives in a scratch var/.
    root = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "catalog.yaml", root / "catalog.yaml")
    shutil.copytree(ROOT / "sandbox" / "secrets", root / "sandbox" / "secrets")
    options = {"signhost": {"sign_delay": 30}, "exact": {"page_size": 25}}
    sandbox = Sandbox(root, names=["exact", "signhost"], free_ports=True, include_services=False, options=options)
    sandbox.start()
    if sandbox.skipped:
        sandbox.stop()
        pytest.skip(f"stand-ins not available: {sandbox.skipped}")
    yield sandbox
    sandbox.stop()


def _context(box, name: str, batch_size: int = 50) -> PluginContext:
    # The catalog paces Exact at 1 call/s (its 60 a minute); the tests need not wait for that.
    settings = box.context(name).settings.model_copy(update={"rate_limit": None})
    return PluginContext(
        environment="sandbox",
        project_root=box.project_root,
        system_name=name,
        system=settings,
        options={"batch_size": batch_size},
    )


EXACT_SOURCE = {
    "type": "rest",
    "system": "exact",
    "path": "/salesinvoice/SalesInvoices",
    "params": {"$expand": "SalesInvoiceLines", "$select": "InvoiceID,Modified,InvoiceTo,SalesInvoiceLines/ID"},
    "records": "d.results",
    "key": "InvoiceID",
    "paging": {"type": "next_link", "next": "d.__next"},
    "watermark": {
        "field": "Modified",
        "param": "$filter",
        "template": "Modified gt datetime'{cursor}'",
        "initial": "2000-01-01T00:00:00",
    },
    "related": [{"path": "/crm/Accounts", "ref": "InvoiceTo", "as": "debtor", "params": {"$select": "ID,Code"}}],
}


def test_exact_invoices_with_rotating_refresh_token_paging_watermark_and_debtor(box) -> None:
    spec = plugin.source_spec.model_validate(EXACT_SOURCE)
    token_file = box.project_root / "var" / "sandbox" / "exact-refresh-token"
    before = token_file.read_text().strip()
    received = box.context("exact").received
    start = len(received.items)
    source = plugin.create_source(spec, _context(box, "exact", batch_size=20))
    batches = list(source.read(None))
    records = [r for b in batches for r in b.records]
    assert records and all(len(b.records) <= 20 for b in batches)
    assert len({r.key for r in records}) == len(records)
    # every invoice got its debtor: the Account whose ID is its InvoiceTo, with the student number as Code
    assert all(r.data["debtor"]["ID"] == r.data["InvoiceTo"] for r in records)
    assert all(r.data["debtor"]["Code"].strip().startswith("S1") for r in records)
    assert all(r.data["SalesInvoiceLines"]["results"] for r in records)
    calls = [i["body"] for i in received.items[start:] if i.get("kind") == "poll"]
    lookups = [c for c in calls if c["path"] == "crm/Accounts"]
    # one Accounts call per batch's distinct debtors, twenty at most each
    distinct = sum(len({r.data["InvoiceTo"] for r in b.records}) for b in batches)
    assert sum(c["count"] for c in lookups) == distinct and all(c["count"] <= 20 for c in lookups)
    assert token_file.read_text().strip() != before, "the rotated refresh token was not written back"
    cursor = batches[-1].cursor
    assert cursor and cursor[:4].isdigit()
    assert [r for b in source.read(cursor) for r in b.records] == []  # nothing changed since
    source.close()


def test_exact_refuses_todays_shape_a_watermark_on_salesinvoicelines(box) -> None:
    from runtime.errors import RecordError

    spec = plugin.source_spec.model_validate({**EXACT_SOURCE, "path": "/salesinvoice/SalesInvoiceLines",
                                              "params": {"$select": "ID,Modified"}, "key": "ID", "related": []})
    source = plugin.create_source(spec, _context(box, "exact"))
    with pytest.raises(RecordError) as caught:  # a 400: not retried, the run says why
        list(source.read(None))
    source.close()
    assert "No property 'Modified' exists in type 'Exact.Web.Api.Models.SalesInvoiceLine'" in str(caught.value)
    assert "400" in str(caught.value)


def test_signhost_three_steps(box, tmp_path) -> None:
    pdf = tmp_path / "ook.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% onderwijsovereenkomst\n%%EOF\n")
    spec = plugin.target_spec.model_validate(
        {
            "type": "rest",
            "system": "signhost",
            "steps": [
                {"method": "POST", "path": "/transaction", "body": "transaction", "save": {"transaction_id": "Id"}},
                {
                    "method": "PUT",
                    "path": "/transaction/{transaction_id}/file/{file_id}",
                    "file": "file_path",
                    "content_type": "application/pdf",
                },
                {"method": "PUT", "path": "/transaction/{transaction_id}/start"},
            ],
            "reference": "transaction_id",
        }
    )
    good = {
        "transaction": {"Seal": False, "Reference": "OOK-S100001",
                        "Context": {"documentKind": "onderwijsovereenkomst", "studentIsMinor": False},
                        "Signers": [{"Email": "s100001@student.example", "Context": {"role": "student"}}]},
        "file_id": "onderwijsovereenkomst.pdf",
        "file_path": str(pdf),
    }
    bad = {**good, "transaction": {"Reference": "OOK-S100002", "Signers": [{"Email": "x@example"}]}}  # no Seal
    target = plugin.create_target(spec, _context(box, "signhost"))
    outcomes = target.write([Item(key="a", payload=good, source_key="a"), Item(key="b", payload=bad, source_key="b")])
    target.close()
    assert outcomes[0].ok and outcomes[0].reference
    assert outcomes[1].error is not None and outcomes[1].error.error_class == "record"
