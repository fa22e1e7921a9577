"""SBB White Label through the soap plugin: the catalog's Licentie in every call (masked in what
is shown), Signaalcode 996 stops the run, a refused verification is that record's error with
SBB's text, and the mutatieservice is read incrementally from the last Volgnummer."""

from __future__ import annotations

import copy
import re

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from soap_helpers import ROOT, SBB_WSDL

from plugins.soap import systemfields
from plugins.soap.source import SoapPullSource
from plugins.soap.spec import SoapSource, SoapTarget
from plugins.soap.target import SoapCallTarget
from runtime import redact
from runtime.errors import ConfigError, RecordError
from runtime.models.catalog import SystemEnvironment
from runtime.plugin import Item, PluginContext
from sandbox.soap.sbb import register

LICENCE = (ROOT / "sandbox" / "secrets" / "sbb-licentie").read_text().strip()
#: as on interface 8's source and target
LICENCE_FIELD = {"request.Licentie": "licentie"}


def verification(company: dict, erkenning: dict, **change) -> dict:
    return {"request": {"CodeLeerbedrijf": company["CodeLeerbedrijf"], "Crebonummer": erkenning["Crebonummer"],
                        "Leerweg": erkenning["Leerweg"], "Startdatum": "2026-09-01", "Kenmerk": "INT-7", **change}}


def target(ctx) -> SoapCallTarget:
    return SoapCallTarget(SoapTarget(type="soap", wsdl=SBB_WSDL, operation="Verificatie", system_fields=LICENCE_FIELD,
                                     reference="VerificatieResult.CodeLeerbedrijf"), ctx)


def mutations(ctx) -> SoapPullSource:
    return SoapPullSource(SoapSource(
        type="soap", wsdl=SBB_WSDL, operation="Mutaties", request={"request": {"VanafVolgnummer": 0, "MaximumAantal": 2}},
        records="MutatiesResult.Mutatie", key="Volgnummer", since={"param": "VanafVolgnummer", "field": "Volgnummer"},
        system_fields=LICENCE_FIELD,
    ), ctx)


def test_the_licence_goes_into_every_call_and_is_masked_in_the_dry_run(context, soap_sandbox):
    company = register()[0]
    t = target(context("sbb"))
    [outcome] = t.write([Item(key="INT-7", payload=verification(company, company["Erkenningen"][0]), source_key="INT-7")])
    rendered = t.render(Item(key="INT-7", payload=verification(company, company["Erkenningen"][0]), source_key="INT-7"))
    t.close()
    assert outcome.ok and outcome.reference == company["CodeLeerbedrijf"]
    assert outcome.response["VerificatieResult"]["Erkend"] is True
    [call] = [i for i in soap_sandbox.context("sbb").received.items if i["kind"] == "accepted"]
    assert call["operation"] == "Verificatie" and call["body"]["request"]["Licentie"] == "*****"
    assert LICENCE not in rendered and "Licentie>*****<" in rendered.replace(" ", "").replace("ns0:", "")


def test_a_refused_verification_is_that_records_error_with_sbbs_text(context):
    company = register()[0]
    t = target(context("sbb"))
    good = Item(key="a", payload=verification(company, company["Erkenningen"][0]), source_key="a")
    unknown = Item(key="b", payload=verification(company, company["Erkenningen"][0], CodeLeerbedrijf="999999999"),
                   source_key="b")
    outcomes = t.write([good, unknown])
    t.close()
    assert outcomes[0].ok
    error = outcomes[1].error
    assert isinstance(error, RecordError) and error.code == "signaal-101"
    assert str(error).startswith("sbb refused the record: Signaalcode 101 Leerbedrijf onbekend bij SBB")


def test_a_licence_sbb_does_not_know_stops_the_run_as_a_configuration_error(context, soap_sandbox):
    ctx = context("sbb", options={"licentie": "another-schools-licence"})
    company = register()[0]
    t = target(ctx)
    with pytest.raises(ConfigError, match="Signaalcode 996"):
        t.write([Item(key="a", payload=verification(company, company["Erkenningen"][0]), source_key="a")])
    t.close()
    s = mutations(ctx)
    with pytest.raises(ConfigError, match=r"check the Licentie in the catalog \(options.licentie, the request's system_fields\)"):
        list(s.read(None))
    s.close()
    refused = [i["body"] for i in soap_sandbox.context("sbb").received.items if i["kind"] == "refused"]
    assert refused == [{"signaalcode": 996, "operation": "Verificatie"}, {"signaalcode": 996, "operation": "Mutaties"}]


def test_without_the_licence_option_nothing_is_sent_and_the_error_says_what_to_set(context, soap_sandbox):
    ctx = context("sbb", options={"licentie": None})
    company = register()[0]
    t = target(ctx)
    with pytest.raises(ConfigError, match=r"system sbb: set options.licentie for environment 'sandbox' in catalog.yaml "
                                          r"\(the payload's request.Licentie\)"):
        t.write([Item(key="a", payload=verification(company, company["Erkenningen"][0]), source_key="a")])
    t.close()
    with pytest.raises(ConfigError, match=re.escape("set options.licentie")):
        list(mutations(ctx).read(None))
    assert soap_sandbox.context("sbb").received.items == []


def test_the_mutatieservice_is_read_from_the_last_volgnummer(context, soap_sandbox):
    ctx = context("sbb")
    t = target(ctx)
    companies = register()[10:13]
    for i, company in enumerate(companies):
        erkenning = company["Erkenningen"][0]
        assert t.write([Item(key=str(i), payload=verification(company, erkenning, Kenmerk=f"INT-{i}"), source_key=str(i))])[0].ok
    t.close()
    s = mutations(ctx)
    start = [b.cursor for b in s.read(None)]
    cursor = start[-1] if start else None
    root = soap_sandbox.url("sbb").rstrip("/")
    for company in companies:
        erkenning = company["Erkenningen"][0]
        r = httpx.post(root + "/_sandbox/leerbedrijven", json={"end": {
            "code": company["CodeLeerbedrijf"], "crebo": erkenning["Crebonummer"], "leerweg": erkenning["Leerweg"],
            "date": "2026-12-31"}}, timeout=10)
        assert r.status_code == 200 and r.json()["mutations"]
    batches = list(s.read(cursor))  # at most two a call (MaximumAantal): one read takes one page
    read = [r.data for b in batches for r in b.records]
    assert [m["Kenmerk"] for m in read] == ["INT-0", "INT-1"]
    assert batches[-1].cursor == str(read[-1]["Volgnummer"])
    rest = [r.data for b in s.read(batches[-1].cursor) for r in b.records]
    assert [m["Kenmerk"] for m in rest] == ["INT-2"] and rest[0]["Soort"] == "erkenning_beeindigd"
    assert [r for b in s.read(str(rest[0]["Volgnummer"])) for r in b.records] == []
    asked = [i["body"]["request"]["VanafVolgnummer"] for i in soap_sandbox.context("sbb").received.items
             if i.get("operation") == "Mutaties"]
    # each read asked from the cursor it was given: the start, after the first page, after the last
    assert asked[-3:] == [cursor or "0", str(read[-1]["Volgnummer"]), str(rest[0]["Volgnummer"])]
    s.close()


def test_a_since_param_the_request_does_not_have_is_a_configuration_error(context):
    s = SoapPullSource(SoapSource(type="soap", wsdl=SBB_WSDL, operation="Mutaties",
                                  request={"request": {"MaximumAantal": 5}}, records="MutatiesResult.Mutatie",
                                  key="Volgnummer", since={"param": "VanafVolgnummer", "field": "Volgnummer"}),
                       context("sbb"))
    with pytest.raises(ConfigError, match="VanafVolgnummer"):
        list(s.read(None))
    s.close()


@given(payload=st.dictionaries(st.sampled_from(["request", "other"]),
                               st.dictionaries(st.sampled_from(["Licentie", "Pagina", "CodeLeerbedrijf"]),
                                               st.text(max_size=5), max_size=3), max_size=2))
def test_the_catalogs_fields_win_and_nothing_else_changes(payload):
    ctx = PluginContext(environment="sandbox", project_root=ROOT, system_name="sbb",
                        system=SystemEnvironment(url="http://x", options={"licentie": "${file:sandbox/secrets/sbb-licentie}"}))
    before = copy.deepcopy(payload)
    merged = systemfields.applied(payload, systemfields.values(LICENCE_FIELD, ctx), "sbb")
    assert payload == before  # the mapped payload itself is not changed
    assert merged["request"]["Licentie"] == LICENCE
    assert {k: v for k, v in merged["request"].items() if k != "Licentie"} == \
        {k: v for k, v in payload.get("request", {}).items() if k != "Licentie"}
    assert merged.get("other") == payload.get("other")
    assert redact.text(f"licence {LICENCE}") == "licence *****"


def test_a_path_through_a_value_that_is_not_an_object_is_a_configuration_error():
    with pytest.raises(ConfigError, match=re.escape("system sbb: system_fields request.Licentie: the payload's request is not an object")):
        systemfields.applied({"request": "flat"}, {"request.Licentie": "x"}, "sbb")
    with pytest.raises(ConfigError, match=re.escape("system_fields a.b.c: the payload's a.b is not an object")):
        systemfields.applied({"a": {"b": 3}}, {"a.b.c": "x"}, "sbb")
    assert systemfields.applied({}, {"a.b.c": "x", "a.d": 1}, "sbb") == {"a": {"b": {"c": "x"}, "d": 1}}
