"""SoapPullSource against the SBB stand-in: Zoeken page by page, GeefDetails per hit."""

from __future__ import annotations

import pytest

from plugins.soap.source import SoapPullSource
from plugins.soap.spec import SoapSource
from runtime.errors import TransientError
from sandbox.soap.sbb import register
from sandbox.standin import Fault
from soap_helpers import SBB_WSDL


def source(ctx, **extra) -> SoapPullSource:
    spec = SoapSource(
        type="soap",
        wsdl=SBB_WSDL,
        operation="Zoeken",
        request={"request": {"AantalResultatenPerPagina": 25, "Pagina": 1, "LeerplaatsErkenningAanduiding": "E"}},
        records="ZoekenResult.Resultaten.Resultaat",
        key="CodeLeerbedrijf",
        system_fields={"request.Licentie": "licentie"},  # SBB's licence in every call, as on interface 8
        **extra,
    )
    return SoapPullSource(spec, ctx)


def test_every_leerbedrijf_is_read_once_across_pages(context, soap_sandbox):
    s = source(context("sbb"))
    s.open()
    batches = list(s.read(None))
    s.close()
    keys = [r.key for b in batches for r in b.records]
    assert len(batches) == 3  # 60 companies, 25 per page
    assert sorted(keys) == sorted(c["CodeLeerbedrijf"] for c in register())
    assert len(set(keys)) == len(keys) and all(len(k) == 9 and k.isdigit() for k in keys)
    first = batches[0].records[0].data
    assert first["Erkenning"] and len(first["Erkenning"][0]["Crebonummer"]) == 5


def test_details_are_fetched_per_hit(context, soap_sandbox):
    s = source(
        context("sbb"),
        detail_operation="GeefDetails",
        detail_request={"request": "{CodeLeerbedrijf: CodeLeerbedrijf}"},
    )
    s.spec.request["request"]["Crebonummer"] = "25998"
    records = [r for b in s.read(None) for r in b.records]
    assert records
    for record in records:
        details = record.data["details"]["GeefDetailsResult"]
        assert details["CodeLeerbedrijf"] == record.key
        assert any(e["Crebonummer"] == "25998" for e in details["Erkenningen"]["Erkenning"])
    calls = [r["operation"] for r in soap_sandbox.context("sbb").received.items]
    assert calls.count("GeefDetails") == len(records)
    s.close()


def test_a_failing_sbb_is_transient_and_the_source_works_after(context, soap_sandbox):
    soap_sandbox.context("sbb").faults.add(Fault(mode="500"))
    s = source(context("sbb"))
    with pytest.raises(TransientError):
        list(s.read(None))
    assert sum(len(b.records) for b in s.read(None)) == len(register())
    s.close()
