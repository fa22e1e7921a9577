"""The SOAP stand-ins check what a real Edukoppeling service checks, and answer like one.

Messages are built by the soap plugin (so they are right), then broken one way at a time.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from lxml import etree

from plugins.soap import edukoppeling as E
from plugins.soap import wsdl
from plugins.soap.client import SoapEndpoint
from plugins.soap.settings import SoapSettings
from sandbox.soap.eckid import TEST_CHAIN, TEST_SECTOR, eckid_for, stampseudonym_for
from sandbox.soap.pki import ensure_sandbox_pki

ROOT = Path(__file__).resolve().parents[3]
HPGN = "9735dfd2235eaeb5f0300886bcc99c82ffc1d6420c4e0bde8de7218def2135fa"
ROD_WSDL = "contracts/duo-rod/KOPPEL_DUO_MBO_ROD_Aanleveren_V1.wsdl"
ECK_WSDL = "${specs}/eckid-nummervoorziening/eckid.wsdl"
SENDER = "0000000700025LX00000"
DUO = "00000001800866472000"
client = httpx.Client(timeout=10)


def endpoint(url: str, wsdl: str, *, profile: str, receiver: str) -> SoapEndpoint:
    key, cert = ensure_sandbox_pki(ROOT)
    settings = SoapSettings(
        system="test", endpoint=url, profile=profile, sender_oin=SENDER, receiver_oin=receiver, timeout=10,
        options={"signing_key": f"${{file:{key}}}", "signing_cert": str(cert)}, tls=None, project_root=ROOT,
    )
    return SoapEndpoint(wsdl, settings)


def rod_message(standins, *, sign: bool = True):
    ep = endpoint(standins.url("duo-rod"), ROD_WSDL, profile="edukoppeling-2W-be-S", receiver=DUO)
    payload = {"persoon": {"onderwijsnummer": "100000009"}, "brin": "25LX", "inschrijvingvolgnummer": "7",
               "bpvVolgnummer": "1", "afsluitdatum": "2026-08-15", "datumBegin": "2026-09-01",
               "datumEindeGepland": "2027-01-31", "omvang": 400, "leerbedrijfId": "123456789", "opleidingcode": "25998"}
    envelope, _, _ = ep.build("aanleveren_bpv", payload, sign=sign)
    return envelope, ep.operation("aanleveren_bpv").soapaction


def post(url: str, envelope, action: str) -> httpx.Response:
    data = envelope if isinstance(envelope, bytes) else etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
    return client.post(url, content=data, headers={"SOAPAction": f'"{action}"', "Content-Type": "text/xml; charset=utf-8"})


def fault_code(response: httpx.Response) -> str | None:
    root = etree.fromstring(response.content)
    code = root.findtext(f".//{{{E.SOAP_ENV}}}Fault/faultcode")
    return code.rpartition(":")[2] if code else None


def test_a_correct_signed_message_is_acknowledged(standins):
    envelope, action = rod_message(standins)
    response = post(standins.url("duo-rod"), envelope, action)
    assert response.status_code == 200
    answer = etree.fromstring(response.content)
    wsa = E.read_addressing(answer)
    assert wsa["RelatesTo"] == E.read_addressing(envelope)["MessageID"]
    assert E.oin_of(wsa["To"]) == SENDER
    assert answer.findtext(".//{*}ontvangstBevestiging") == "J"
    # the stand-in's answer keeps to its own contract
    schema = wsdl.schema(ROOT / ROD_WSDL)
    assert schema.validate(etree.fromstring(etree.tostring(answer.find(f"{{{E.SOAP_ENV}}}Body")[0]))), schema.error_log
    [record] = standins.context("duo-rod").received.items
    assert record["kind"] == "accepted" and record["operation"] == "aanleveren_bpv" and record["signed"]


@pytest.mark.parametrize(
    ("header", "code"),
    [("To", "Client.DK0005"), ("Action", "Client.DK0006"), ("MessageID", "Client.DK0007"), ("From", "Client.EK0020")],
)
def test_missing_addressing_headers(standins, header, code):
    envelope, action = rod_message(standins, sign=False)
    node = envelope.find(f".//{{{E.WSA}}}{header}")
    node.getparent().remove(node)
    assert fault_code(post(standins.url("duo-rod"), envelope, action)) == code


@pytest.mark.parametrize(
    ("header", "value", "code"),
    [
        ("From", "http://www.w3.org/2005/08/addressing/anonymous", "Client.EK0021"),
        ("To", "https://duo.example/rod?oin=00000001999999999000", "Client.EK0022"),
        ("MessageID", "message-1", "Client.EK0023"),
        ("Action", "http://elsewhere/op", "Client.DK0011"),
    ],
)
def test_wrong_addressing_values(standins, header, value, code):
    envelope, action = rod_message(standins, sign=False)
    node = envelope.find(f".//{{{E.WSA}}}{header}")
    (node[0] if header == "From" else node).text = value
    assert fault_code(post(standins.url("duo-rod"), envelope, action)) == code


def test_unknown_soapaction(standins):
    envelope, _ = rod_message(standins)
    assert fault_code(post(standins.url("duo-rod"), envelope, "http://koppel.standin/nope")) == "Client.DK0003"


def test_unsigned_and_tampered_messages_are_refused(standins):
    envelope, action = rod_message(standins, sign=False)
    assert fault_code(post(standins.url("duo-rod"), envelope, action)) == "Client.EK0031"
    envelope, action = rod_message(standins)
    data = etree.tostring(envelope).replace(b"<ns0:omvang>400<", b"<ns0:omvang>800<")
    assert b"800" in data
    assert fault_code(post(standins.url("duo-rod"), data, action)) == "Client.EK0031"


def test_a_body_against_the_xsd_is_refused_with_dk0004(standins):
    envelope, action = rod_message(standins)  # signed, then the stand-in validates the body
    ep = endpoint(standins.url("duo-rod"), ROD_WSDL, profile="edukoppeling-2W-be-S", receiver=DUO)
    payload = {"persoon": {"onderwijsnummer": "100000009"}, "brin": "25LX", "inschrijvingvolgnummer": "7",
               "bpvVolgnummer": "1", "afsluitdatum": "2026-08-15", "datumBegin": "2026-09-01",
               "datumEindeGepland": "2027-01-31", "omvang": 400, "leerbedrijfId": "12345", "opleidingcode": "25998"}
    envelope, _, _ = ep.build("aanleveren_bpv", payload, sign=True)
    response = post(standins.url("duo-rod"), envelope, action)
    assert fault_code(response) == "Client.DK0004" and response.status_code == 500
    assert standins.context("duo-rod").received.items[-1]["kind"] == "refused"


def test_an_entity_in_a_request_is_refused_unread(standins, tmp_path):
    secret = tmp_path / "s.txt"
    secret.write_text("NOT-FOR-YOU")
    body = (f'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file://{secret}">]>'
            f'<s:Envelope xmlns:s="{E.SOAP_ENV}"><s:Body>&x;</s:Body></s:Envelope>').encode()
    response = post(standins.url("kennisnet"), body, "http://ketenid.nl/eck/schemas/v1_0/ping")
    assert fault_code(response) == "VersionMismatch.DK0001"
    assert b"NOT-FOR-YOU" not in response.content


def test_faults_are_switched_over_http(standins):
    base = standins.url("duo-rod").rsplit("/", 1)[0]
    client.post(f"{base}/_sandbox/faults", json={"mode": "fault", "code": "Server.DK0051"}).raise_for_status()
    envelope, action = rod_message(standins)
    assert fault_code(post(standins.url("duo-rod"), envelope, action)) == "Server.DK0051"
    assert post(standins.url("duo-rod"), envelope, action).status_code == 200
    received = client.get(f"{base}/_sandbox/received").json()
    assert [r["kind"] for r in received] == ["accepted"]


def test_eckid_answers_deterministically_without_signature(standins):
    ep = endpoint(standins.url("kennisnet"), ECK_WSDL, profile="edukoppeling-2W-be", receiver="00000001819013404000")
    envelope, _, _ = ep.build("retrieveStampseudonym", {"hpgn": HPGN}, sign=False)
    response = post(standins.url("kennisnet"), envelope, ep.operation("retrieveStampseudonym").soapaction)
    assert etree.fromstring(response.content).findtext(".//{*}stampseudonym") == stampseudonym_for(HPGN)
    ask = {"stampseudonym": stampseudonym_for(HPGN), "chainId": TEST_CHAIN, "sectorId": TEST_SECTOR}
    envelope, _, _ = ep.build("retrieveEckId", ask, sign=False)
    response = post(standins.url("kennisnet"), envelope, ep.operation("retrieveEckId").soapaction)
    assert etree.fromstring(response.content).findtext(".//{*}eckId") == eckid_for(stampseudonym_for(HPGN), TEST_CHAIN, TEST_SECTOR)
    # a chain or sector Kennisnet does not know is refused, as its service does ("invalidchainguid")
    for wrong in ({"chainId": "invalidchainguid"}, {"sectorId": "invalidsectorguid"}):
        envelope, _, _ = ep.build("retrieveEckId", {**ask, **wrong}, sign=False)
        assert fault_code(post(standins.url("kennisnet"), envelope, ep.operation("retrieveEckId").soapaction)) == "Client.DK0004"
    envelope, _, _ = ep.build("retrieveStampseudonym", {"hpgn": "not-a-hash"}, sign=False)
    assert fault_code(post(standins.url("kennisnet"), envelope, ep.operation("retrieveStampseudonym").soapaction)) == "Client.DK0004"


@pytest.mark.parametrize(("system", "wsdl_path", "operation", "payload"), [
    ("duo-verzuim", "contracts/duo-verzuim/KOPPEL_DUO_Verzuimregister_V1.wsdl", "melden_verzuim",
     {"kenmerkMeldingSchool": "K1", "onderwijsontvanger": {"onderwijsnummer": "100000009"}, "brin": "25LX",
      "verzuimsoort": "LUXE", "datumBeginVerzuim": "2026-10-01", "melder": {"naam": "M"}}),
    ("sbb", "contracts/sbb/KOPPEL_SBB_Leerbedrijven_V1.wsdl", "Zoeken", {"request": {"AantalResultatenPerPagina": 2}}),
])
def test_answers_keep_to_the_contract(standins, system, wsdl_path, operation, payload):
    signed = system != "sbb"
    ep = endpoint(standins.url(system), wsdl_path, profile="edukoppeling-2W-be-S" if signed else "", receiver=DUO)
    envelope, _, _ = ep.build(operation, payload, sign=signed)
    response = post(standins.url(system), envelope, ep.operation(operation).soapaction)
    assert response.status_code == 200, response.text
    body = etree.fromstring(response.content).find(f"{{{E.SOAP_ENV}}}Body")[0]
    schema = wsdl.schema(ROOT / wsdl_path)
    assert schema.validate(etree.fromstring(etree.tostring(body))), schema.error_log
