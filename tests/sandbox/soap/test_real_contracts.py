"""What Koppel sends to the ECK-iD and RIO stand-ins validates against the real public contracts;
without ../shared/specs, both sides fall back to the project's own minimal contracts."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from lxml import etree

from plugins.soap import edukoppeling as E
from plugins.soap.spec import SoapTarget
from plugins.soap.target import SoapCallTarget
from runtime.paths import specs_dir
from runtime.plugin import Item, PluginContext
from sandbox.soap.eckid import TEST_CHAIN, TEST_SECTOR
from sandbox.runner import Sandbox, load_catalog
from sandbox.soap.pki import ensure_sandbox_pki

ROOT = Path(__file__).resolve().parents[3]
SPECS = specs_dir(ROOT)
HPGN = "0b870ff044775ef0360655c40d5b284b7e3ae2b72207a6894794d787eb019e60"
RIO = "DUO_RIO_Beheren_OnderwijsOrganisatie_V4"
requires_specs = pytest.mark.skipif(
    not SPECS.exists(), reason=f"the public contracts are not at {SPECS} (set KOPPEL_SPECS_DIR to check against them)"
)


def rio_payload() -> dict:
    return {"aangebodenMboOpleiding": {
        "aangebodenOpleidingCode": "5b0c7f0e-9d8a-4c39-9a55-0d3e2f1a7b61", "onderwijsaanbiedercode": "110A133",
        "begindatum": "2026-08-01", "opleidingserkenningSleutel": {"opleidingsstelsel": "CREBO", "opleidingscode": "25604"},
        "aangebodenMboOpleidingPeriode": [{"begindatum": "2026-08-01"}],
        "aangebodenMboOpleidingCohort": [
            {"cohortcode": "2026-SEP", "cohortstatus": "O", "beginAanmeldperiode": "2025-10-01",
             "vastInstroommoment": {"instroommoment": "2026-09-01"}, "toestemmingVereistVoorAanmelding": "NEE"},
            {"cohortcode": "2027-FEB", "cohortstatus": "G", "beginAanmeldperiode": "2026-09-01",
             "flexibeleInstroom": {"beginInstroomperiode": "2027-02-01"}, "toestemmingVereistVoorAanmelding": "NEE"},
        ],
        "leertrajectMBO": "BBL", "mboNiveau": "MBO-2", "toelatingseisen": "NEE", "toegankelijkheid": "ALL",
    }}


def capture(target: SoapCallTarget) -> list[etree._Element]:
    """Wrap the endpoint's build so the test keeps every envelope that goes out."""
    endpoint = target._endpoint()
    sent: list[etree._Element] = []
    original = endpoint.build

    def build(*args, **kwargs):
        result = original(*args, **kwargs)
        sent.append(copy.deepcopy(result[0]))
        return result

    endpoint.build = build
    return sent


def context(box: Sandbox, name: str) -> PluginContext:
    system = load_catalog(ROOT).systems[name]
    return PluginContext(environment="sandbox", project_root=ROOT, system_name=name,
                         system=box.context(name).settings.model_copy(update={"url": box.url(name)}),
                         options={"profile": system.profile, "sender_oin": system.sender_oin})


def body_of(envelope: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(envelope.find(f"{{{E.SOAP_ENV}}}Body")[0]))


def send_eckid_and_rio(box: Sandbox) -> tuple[list, list]:
    eck = SoapCallTarget(SoapTarget(type="soap", wsdl="${specs}/eckid-nummervoorziening/eckid.wsdl", operation="retrieveEckId",
                                    before=["retrieveStampseudonym"], reference="eckId"), context(box, "kennisnet"))
    eck_sent = capture(eck)
    [eck_outcome] = eck.write([Item(key="1", source_key="1", payload={"hpgn": HPGN, "chainId": TEST_CHAIN, "sectorId": TEST_SECTOR})])
    rio = SoapCallTarget(SoapTarget(type="soap", wsdl=f"${{specs}}/duo-rio/{RIO}.wsdl", operation="aanleveren_aangebodenOpleiding"),
                         context(box, "duo-rio"))
    rio_sent = capture(rio)
    [rio_outcome] = rio.write([Item(key="2", source_key="2", payload=rio_payload())])
    assert eck_outcome.ok and rio_outcome.ok, (eck_outcome.error, rio_outcome.error)
    return eck_sent, rio_sent


@requires_specs
def test_messages_validate_against_the_real_contracts():
    ensure_sandbox_pki(ROOT)
    with Sandbox(ROOT, names=["kennisnet", "duo-rio"], free_ports=True, include_services=False).start() as box:
        eck_sent, rio_sent = send_eckid_and_rio(box)
    # RIO: DUO's own XSD file, loaded directly
    rio_schema = etree.XMLSchema(etree.parse(str(SPECS / "duo-rio" / f"{RIO}.xsd")))
    [rio_envelope] = rio_sent
    body = body_of(rio_envelope)
    assert rio_schema.validate(body), rio_schema.error_log
    assert body.find(".//{*}aangebodenMboOpleiding") is not None
    assert "{http://www.w3.org/2001/XMLSchema-instance}type" not in etree.tostring(body).decode()
    # ECK-iD: the schema embedded in Kennisnet's WSDL
    wsdl = etree.parse(str(SPECS / "eckid-nummervoorziening" / "eckid.wsdl"))
    inline = wsdl.find(".//{http://www.w3.org/2001/XMLSchema}schema")
    standalone = etree.Element(inline.tag, nsmap=inline.nsmap, attrib=dict(inline.attrib))  # keeps sid: in scope
    standalone.extend(copy.deepcopy(child) for child in inline)
    eck_schema = etree.XMLSchema(standalone)
    assert [etree.QName(body_of(e)).localname for e in eck_sent] == ["retrieveStampseudonymRequest", "retrieveEckIdRequest"]
    for envelope in eck_sent:
        assert eck_schema.validate(body_of(envelope)), eck_schema.error_log
        assert E.read_addressing(envelope)["Action"].startswith("http://ketenid.nl/eck/schemas/v1_0/")


def test_without_specs_both_sides_use_the_fallback_contracts(tmp_path, monkeypatch):
    monkeypatch.setenv("KOPPEL_SPECS_DIR", str(tmp_path / "no-specs-here"))
    ensure_sandbox_pki(ROOT)
    with Sandbox(ROOT, names=["kennisnet", "duo-rio"], free_ports=True, include_services=False).start() as box:
        assert not box.context("duo-rio").specs_dir.exists()
        eck_sent, rio_sent = send_eckid_and_rio(box)
        assert [r["kind"] for r in box.context("duo-rio").received.items] == ["accepted"]
    schema = etree.XMLSchema(etree.parse(str(ROOT / "contracts" / "fallback" / "duo-rio" / f"{RIO}.xsd")))
    assert schema.validate(body_of(rio_sent[0])), schema.error_log


@requires_specs
def test_rio_answers_validate_against_duos_xsd():
    import httpx

    from sandbox.standin import Fault

    ensure_sandbox_pki(ROOT)
    schema = etree.XMLSchema(etree.parse(str(SPECS / "duo-rio" / f"{RIO}.xsd")))
    with Sandbox(ROOT, names=["duo-rio"], free_ports=True, include_services=False).start() as box:
        target = SoapCallTarget(SoapTarget(type="soap", wsdl=f"${{specs}}/duo-rio/{RIO}.wsdl",
                                           operation="aanleveren_aangebodenOpleiding"), context(box, "duo-rio"))
        endpoint = target._endpoint()
        endpoint.open()
        for fault in (None, Fault(mode="reject")):  # approved, and refused with a foutmelding
            if fault:
                box.context("duo-rio").faults.add(fault)
            envelope, _, _ = endpoint.build("aanleveren_aangebodenOpleiding", rio_payload(), sign=True)
            response = httpx.post(box.url("duo-rio"), content=etree.tostring(envelope),
                                  headers={"SOAPAction": endpoint.operation("aanleveren_aangebodenOpleiding").soapaction})
            body = body_of(etree.fromstring(response.content))
            assert schema.validate(body), schema.error_log
            assert body.findtext("{*}requestGoedgekeurd") == ("false" if fault else "true")
        target.close()
