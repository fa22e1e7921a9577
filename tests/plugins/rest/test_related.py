"""Related records (``related:``): each batch completed with another collection's records, looked
up in chunks with an OR-filter, matched case-insensitively, null where the system has none."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugins.rest import plugin
from runtime.errors import TransientError

from .conftest import context

GUID = re.compile(r"ID eq guid'([0-9a-fA-F-]+)'")


def accounts_peer(peer, accounts: dict[str, str]):
    """crm/Accounts that answers the accounts its $filter names (and only those)."""
    calls = []

    @peer.route("GET", "/crm/Accounts")
    def find(request):
        wanted = GUID.findall(request.query["$filter"])
        calls.append(wanted)
        assert " or ".join(f"ID eq guid'{w}'" for w in wanted) == request.query["$filter"]
        assert request.query["$select"] == "ID,Code"
        found = [{"ID": w.upper(), "Code": accounts[w.lower()].rjust(18)} for w in wanted if w.lower() in accounts]
        return 200, {"d": {"results": found}}

    return calls


def read(peer, invoices, batch_size=500, chunk=20):
    @peer.route("GET", "/salesinvoice/SalesInvoices")
    def invoices_(request):
        return 200, {"d": {"results": invoices}}

    spec = plugin.source_spec.model_validate({
        "type": "rest", "path": "/salesinvoice/SalesInvoices", "records": "d.results", "key": "InvoiceID",
        "related": [{"path": "/crm/Accounts", "ref": "InvoiceTo", "as": "debtor", "chunk": chunk,
                     "params": {"$select": "ID,Code"}}],
    })
    source = plugin.create_source(spec, context(peer.url, batch_size=batch_size))
    try:
        return list(source.read(None))
    finally:
        source.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(debtors=st.integers(min_value=1, max_value=45), invoices=st.integers(min_value=1, max_value=60),
       batch=st.sampled_from([7, 25, 500]), known=st.floats(min_value=0, max_value=1))
def test_every_invoice_gets_its_debtor_in_chunks_per_batch(peer, debtors, invoices, batch, known):
    peer.routes.clear()
    ids = [str(uuid.UUID(int=i + 1)) for i in range(debtors)]
    accounts = {d: f"S{100001 + i}" for i, d in enumerate(ids) if i < round(debtors * known)}
    rows = [{"InvoiceID": f"I{n}", "InvoiceTo": ids[n % debtors].upper() if n % 2 else ids[n % debtors]}
            for n in range(invoices)]
    calls = accounts_peer(peer, accounts)
    batches = read(peer, rows, batch_size=batch)
    records = [r for b in batches for r in b.records]
    assert [r.key for r in records] == [row["InvoiceID"] for row in rows]
    for record in records:
        expected = accounts.get(record.data["InvoiceTo"].lower())
        got = record.data["debtor"]
        assert (got["Code"].strip() if got else None) == expected
    # per batch: its distinct debtors, twenty to a call, each asked once
    expected_calls = sum(-(-len({r.data["InvoiceTo"].lower() for r in b.records}) // 20) for b in batches)
    assert len(calls) == expected_calls and all(len(c) <= 20 for c in calls)
    for batch_, asked in zip(batches, _per_batch(calls, batches)):
        assert sorted(a.lower() for a in asked) == sorted({r.data["InvoiceTo"].lower() for r in batch_.records})


def _per_batch(calls, batches):
    out, i = [], 0
    for b in batches:
        n = -(-len({r.data["InvoiceTo"].lower() for r in b.records}) // 20)
        out.append([g for c in calls[i:i + n] for g in c])
        i += n
    return out


def test_an_invoice_without_a_reference_gets_null_and_costs_no_call(peer):
    calls = accounts_peer(peer, {})
    [batch] = read(peer, [{"InvoiceID": "I1", "InvoiceTo": None}, {"InvoiceID": "I2"}])
    assert [r.data["debtor"] for r in batch.records] == [None, None] and calls == []


def test_an_answer_that_is_not_a_list_is_an_error_not_a_half_linked_batch(peer):
    @peer.route("GET", "/crm/Accounts")
    def broken(request):
        return 200, {"d": {"results": {"ID": "x"}}}

    with pytest.raises(TransientError, match="is not a list of records"):  # read again, never half-linked
        read(peer, [{"InvoiceID": "I1", "InvoiceTo": str(uuid.UUID(int=1))}])
