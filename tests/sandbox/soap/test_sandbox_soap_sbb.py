"""SBB White Label's stand-in: the Licentie in every call (996 without), Identificatie,
Verificatie with its signals, GeefDetails, and the mutatieservice for verified agreements."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from plugins.soap.client import SoapEndpoint
from plugins.soap.settings import SoapSettings
from sandbox.runner import Sandbox
from sandbox.soap.sbb import NS, register

ROOT = Path(__file__).resolve().parents[3]
WSDL = "contracts/sbb/KOPPEL_SBB_Leerbedrijven_V1.wsdl"
LICENCE = (ROOT / "sandbox" / "secrets" / "sbb-licentie").read_text().strip()
client = httpx.Client(timeout=10)
OPERATIONS = {
    "Zoeken": {"AantalResultatenPerPagina": 5, "Pagina": 1},
    "GeefDetails": {"CodeLeerbedrijf": "100000017"},
    "Identificatie": {"LeerbedrijfNaam": "x", "Postcode": "5211AB"},
    "Verificatie": {"CodeLeerbedrijf": "100000017", "Crebonummer": "25604", "Leerweg": "BOL", "Startdatum": "2026-09-01"},
    "Mutaties": {"VanafVolgnummer": 0},
}


@pytest.fixture(scope="module")
def sbb():
    with Sandbox(ROOT, names=["sbb"], free_ports=True, include_services=False,
                 options={"sbb": {"register_from_sis": False}}).start() as box:
        settings = SoapSettings(system="sbb", endpoint=box.url("sbb"), profile=None, sender_oin=None,
                                receiver_oin=None, timeout=10, options={}, tls=None, project_root=ROOT)
        yield box, SoapEndpoint(WSDL, settings)


def call(sbb, operation: str, request: dict, *, licence: str | None = LICENCE) -> etree._Element:
    box, endpoint = sbb
    body = dict(request) if licence is None else {"Licentie": licence, **request}
    envelope, _, _ = endpoint.build(operation, {"request": body}, sign=False)
    r = client.post(box.url("sbb"), content=etree.tostring(envelope), headers={
        "SOAPAction": f'"{endpoint.operation(operation).soapaction}"', "Content-Type": "text/xml; charset=utf-8"})
    assert r.status_code == 200, r.text
    return etree.fromstring(r.content)


def value(answer: etree._Element, name: str) -> str | None:
    return answer.findtext(f".//{{{NS}}}{name}")


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("licence", [None, "", "another-schools-licence"])
def test_every_operation_without_the_licence_is_signaalcode_996_and_nothing_else(sbb, operation, licence):
    answer = call(sbb, operation, OPERATIONS[operation], licence=licence)
    assert value(answer, "Signaalcode") == "996"
    assert "licentie" in value(answer, "Signaaltekst").lower()
    result = answer.find(f".//{{{NS}}}{operation}Result")
    assert [etree.QName(c).localname for c in result] == ["Signaalcode", "Signaaltekst"]
    refused = [i for i in sbb[0].context("sbb").received.items if i["kind"] == "refused"]
    assert refused[-1]["body"] == {"signaalcode": 996, "operation": operation}


def recognised():
    company = register()[0]
    return company, company["Erkenningen"][0]


def test_verificatie_of_a_recognised_agreement_says_erkend_with_the_erkenning(sbb):
    company, erkenning = recognised()
    answer = call(sbb, "Verificatie", {"CodeLeerbedrijf": company["CodeLeerbedrijf"], "Crebonummer": erkenning["Crebonummer"],
                                       "Leerweg": erkenning["Leerweg"], "Startdatum": "2026-09-01", "Kenmerk": "INT-1"})
    assert (value(answer, "Signaalcode"), value(answer, "Erkend")) == ("0", "true")
    assert value(answer, "LeerbedrijfNaam") == company["Naam"] and value(answer, "Crebonummer") == erkenning["Crebonummer"]


@pytest.mark.parametrize("change, signal", [
    ({"CodeLeerbedrijf": "999999999"}, "101"),  # unknown to SBB
    ({"Crebonummer": "00000"}, "102"),  # no erkenning for this opleiding
    ({"Startdatum": "2019-12-31"}, "103"),  # before the erkenning began
])
def test_verificatie_refuses_with_the_signal_that_says_why(sbb, change, signal):
    company, erkenning = recognised()
    request = {"CodeLeerbedrijf": company["CodeLeerbedrijf"], "Crebonummer": erkenning["Crebonummer"],
               "Leerweg": erkenning["Leerweg"], "Startdatum": "2026-09-01", **change}
    answer = call(sbb, "Verificatie", request)
    assert value(answer, "Signaalcode") == signal and value(answer, "Erkend") is None
    assert value(answer, "Signaaltekst")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(min_value=0, max_value=59), year=st.integers(min_value=2018, max_value=2030))
def test_verificatie_agrees_with_the_register_for_any_company_and_start(sbb, index, year):
    company = register()[index]
    erkenning = company["Erkenningen"][0]
    answer = call(sbb, "Verificatie", {"CodeLeerbedrijf": company["CodeLeerbedrijf"], "Crebonummer": erkenning["Crebonummer"],
                                       "Leerweg": erkenning["Leerweg"], "Startdatum": f"{year}-09-01"})
    expected = "0" if f"{year}-09-01" >= erkenning["Ingangsdatum"] else "103"
    assert value(answer, "Signaalcode") == expected


def test_identificatie_finds_the_company_by_name_and_postcode(sbb):
    company = register()[3]
    postcode = company["Vestigingsadres"]["Postcode"]
    spaced = postcode[:4] + " " + postcode[4:] if " " not in postcode else postcode
    answer = call(sbb, "Identificatie", {"LeerbedrijfNaam": company["Naam"].split()[-1].upper(), "Postcode": spaced})
    codes = [e.text for e in answer.iter(f"{{{NS}}}CodeLeerbedrijf")]
    assert value(answer, "Signaalcode") == "0" and company["CodeLeerbedrijf"] in codes
    assert value(call(sbb, "Identificatie", {"LeerbedrijfNaam": "bestaat niet", "Postcode": spaced}), "Signaalcode") == "110"


def test_the_mutatieservice_reports_an_ended_erkenning_of_a_verified_agreement_once(sbb):
    box, _ = sbb
    root = box.url("sbb").rstrip("/")
    # a company of its own (a copy of the first's erkenningen), so no other test subscribed to it
    [code] = client.post(root + "/_sandbox/leerbedrijven", json={"count": 1}).json()["added"]
    company, erkenning = {**register()[0], "CodeLeerbedrijf": code}, register()[0]["Erkenningen"][0]
    request = {"CodeLeerbedrijf": code, "Crebonummer": erkenning["Crebonummer"],
               "Leerweg": erkenning["Leerweg"], "Startdatum": "2026-09-01", "Kenmerk": "BPV-42"}
    assert value(call(sbb, "Verificatie", request), "Erkend") == "true"
    numbers = [int(e.text) for e in call(sbb, "Mutaties", {"VanafVolgnummer": 0}).iter(f"{{{NS}}}Volgnummer")]
    start = max(numbers, default=0)
    ended = client.post(root + "/_sandbox/leerbedrijven", json={"end": {
        "code": code, "crebo": erkenning["Crebonummer"], "leerweg": erkenning["Leerweg"], "date": "2026-12-31"}})
    assert ended.status_code == 200 and len(ended.json()["mutations"]) == 1
    answer = call(sbb, "Mutaties", {"VanafVolgnummer": start})
    mutations = answer.findall(f".//{{{NS}}}Mutatie")
    assert len(mutations) == 1
    m = {etree.QName(c).localname: c.text for c in mutations[0]}
    assert (m["Soort"], m["Kenmerk"], m["Startdatum"], m["CodeLeerbedrijf"]) == (
        "erkenning_beeindigd", "BPV-42", "2026-09-01", company["CodeLeerbedrijf"])
    assert call(sbb, "Mutaties", {"VanafVolgnummer": int(m["Volgnummer"])}).findall(f".//{{{NS}}}Mutatie") == []
    # the erkenning ended on 31-12: an agreement starting later is no longer recognised
    later = call(sbb, "Verificatie", {**request, "Startdatum": "2027-02-01"})
    assert value(later, "Signaalcode") == "103"
