"""DUO's answers count only when they verify (profile 2W-be-S, plugins/soap/trust.py).

An independent peer on 127.0.0.1 plays DUO ROD: it reads Koppel's signed request, answers with an
Ontvangstbevestiging signed the way DUO signs (Timestamp, To, Action, MessageID, RelatesTo, From,
Body; RSA-SHA256, exclusive c14n) with the sandbox DUO certificate, the one catalog.yaml's sandbox
trust store names, and then spoils the answer as each case says. Only the honest answer is
delivered; every other one is a RecordError (a dead letter) whose message says why.
"""

from __future__ import annotations

import datetime as dt
import socket
import uuid
from pathlib import Path

import pytest
from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plugins.soap import edukoppeling
from plugins.soap.spec import SoapTarget
from plugins.soap.target import SoapCallTarget
from runtime.errors import ConfigError, RecordError
from runtime.models.catalog import Catalog
from runtime.plugin import Item, PluginContext
from runtime.yamlsource import load_file
from sandbox.runner import _serve
from sandbox.soap.pki import ensure_sandbox_pki, make_self_signed

ROOT = Path(__file__).resolve().parents[2]
ROD_WSDL = "contracts/duo-rod/KOPPEL_DUO_MBO_ROD_Aanleveren_V1.wsdl"
NS = "http://koppel.standin/schema/KOPPEL_DUO_MBO_ROD_Aanleveren_V1"
DUO_OIN = "00000001800866472000"
DUO_KEY = (ROOT / "sandbox" / "secrets" / "duo-standin-signing.key").read_bytes()
DUO_CERT = (ROOT / "sandbox" / "secrets" / "duo-standin-signing.crt").read_bytes()
STRANGER_KEY, STRANGER_CERT = make_self_signed("duo.sandbox.local", DUO_OIN)  # same name, other key
SEC = f"{{{edukoppeling.WSSE}}}Security"
PAYLOAD = {
    "persoon": {"burgerservicenummer": "111222333", "geboortedatum": "2008-05-01", "geslacht": "V"},
    "brin": "25LX",
    "inschrijvingvolgnummer": "1",
    "datumInschrijving": "2026-08-01",
    "inschrijvingsperiode": [{"datumBegin": "2026-08-01", "opleidingcode": "25998", "leertraject": "BOL",
                              "niveau": "MBO-4", "indicatieBekostigbaar": True, "onderwijsaanbieder": "110A133",
                              "onderwijslocatie": "107X215"}],
}


def _body(request: etree._Element, document_id: str) -> etree._Element:
    """DUO's Ontvangstbevestiging for the request's document."""
    element = etree.Element(f"{{{NS}}}aanleveren_inschrijving_response", nsmap={"ns": NS})
    asked = request.findtext(f".//{{{NS}}}identificatiecodeBedrijfsdocument")
    for name, value in (("identificatiecodeBedrijfsdocument", document_id), ("verzendendeInstantie", DUO_OIN),
                        ("ontvangendeInstantie", "0000000700025LX00000"),
                        ("datumTijdBedrijfsdocument", "2026-12-01T10:00:00.000Z"),
                        ("referentieBedrijfsdocument", asked), ("ontvangstBevestiging", "J")):
        etree.SubElement(element, f"{{{NS}}}{name}").text = value
    return element


def _answer(request: etree._Element, case: str) -> bytes:
    wsa = edukoppeling.read_addressing(request)
    envelope = etree.Element(f"{{{edukoppeling.SOAP_ENV}}}Envelope", nsmap={"soapenv": edukoppeling.SOAP_ENV})
    relates_to = f"urn:uuid:{uuid.uuid4()}" if case == "mis-related" else wsa["MessageID"]
    edukoppeling.add_addressing(envelope, edukoppeling.Addressing(
        to=edukoppeling.with_oin(edukoppeling.ANONYMOUS, "0000000700025LX00000"), action=f"{wsa['Action']}Response",
        sender_oin=DUO_OIN, message_id=f"urn:uuid:{uuid.uuid4()}",
        relates_to=None if case == "RelatesTo added after signing" else relates_to))
    etree.SubElement(envelope, f"{{{edukoppeling.SOAP_ENV}}}Body").append(_body(request.find(f"{{{edukoppeling.SOAP_ENV}}}Body")[0], "DUO-DOC-1"))
    key, cert = (STRANGER_KEY, STRANGER_CERT) if case == "re-signed by a stranger" else (DUO_KEY, DUO_CERT)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11) if case == "expired timestamp" else None
    if case != "unsigned":
        edukoppeling.sign(envelope, key, cert, now=now)
    header = envelope.find(f"{{{edukoppeling.SOAP_ENV}}}Header")
    if case == "tampered Body":
        envelope.find(f".//{{{NS}}}ontvangstBevestiging").text = "N"
    elif case == "tampered SignatureValue":
        value = envelope.find(f".//{{{edukoppeling.DS}}}SignatureValue")
        value.text = ("A" if value.text[0] != "A" else "B") + value.text[1:]
    elif case == "Security header removed":
        header.remove(header.find(SEC))
    elif case == "RelatesTo added after signing":
        node = etree.SubElement(header, f"{{{edukoppeling.WSA}}}RelatesTo")
        node.text = wsa["MessageID"]
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


class DuoPeer:
    def __init__(self) -> None:
        self.case = "correct"
        self.requests = 0

        async def endpoint(request: Request) -> Response:
            self.requests += 1
            envelope = etree.fromstring(await request.body())
            edukoppeling.verify(envelope)  # Koppel's own request is signed, as DUO demands
            case = self.case
            if case == "by record":  # inschrijvingvolgnummer n: the n-th case of CASES
                case = CASES[int(envelope.findtext(f".//{{{NS}}}inschrijvingvolgnummer")) - 1]
            return Response(_answer(envelope, case), media_type="text/xml; charset=utf-8")

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/mbo/rod"
        self.server, self.thread = _serve(Starlette(routes=[Route("/mbo/rod", endpoint, methods=["POST"])]), sock, "duo")


@pytest.fixture(scope="module")
def peer():
    ensure_sandbox_pki(ROOT)  # Koppel's own signing key in the sandbox
    p = DuoPeer()
    yield p
    p.server.should_exit = True
    p.thread.join(5)


def _context(url: str, **options) -> PluginContext:
    catalog = Catalog.model_validate(load_file(ROOT / "catalog.yaml").data)
    system = catalog.systems["duo-rod"]
    env = system.environments["sandbox"]
    env = env.model_copy(update={"url": url, "options": {**env.options, **options}})
    return PluginContext(environment="sandbox", project_root=ROOT, system_name="duo-rod", system=env,
                         options={"profile": system.profile, "sender_oin": system.sender_oin})


def _deliver(peer: DuoPeer, case: str, **options):
    peer.case = case
    target = SoapCallTarget(SoapTarget(type="soap", wsdl=ROD_WSDL, operation="aanleveren_inschrijving",
                                       reference="identificatiecodeBedrijfsdocument"), _context(peer.url, **options))
    try:
        [outcome] = target.write([Item(key="e1", source_key="e1", payload=PAYLOAD)])
    finally:
        target.close()
    return outcome


def test_a_correct_answer_is_delivered(peer):
    outcome = _deliver(peer, "correct")
    assert outcome.ok, outcome.error
    assert outcome.reference == "DUO-DOC-1"


SPOILED = {
    # case: what the dead letter must say
    "tampered Body": "signature does not verify",
    "tampered SignatureValue": "signature does not verify",
    "Security header removed": "no wsse:Security header",
    "unsigned": "no wsse:Security header",
    "re-signed by a stranger": "signing certificate 'CN=duo.sandbox.local,2.5.4.5=00000001800866472000,O=Koppel sandbox,C=NL' is not in the trust store",
    "mis-related": "wsa:RelatesTo 'urn:uuid:",
    "RelatesTo added after signing": "RelatesTo is not signed",
    "expired timestamp": "Timestamp has expired",
}


@pytest.mark.parametrize("case", list(SPOILED))
def test_a_spoiled_answer_is_a_dead_letter_naming_why(peer, case):
    before = peer.requests
    outcome = _deliver(peer, case)
    assert peer.requests == before + 1  # sent once: the same answer again would be refused again
    assert not outcome.ok and outcome.reference is None and outcome.response is None
    assert type(outcome.error) is RecordError and outcome.error.code == "untrusted-answer"
    message = str(outcome.error)
    assert message.startswith("duo-rod: answer not trusted: "), message
    assert SPOILED[case] in message, message
    if case == "mis-related":
        assert "is not the request's MessageID 'urn:uuid:" in message


def test_without_a_trust_store_nothing_is_sent(peer):
    before = peer.requests
    with pytest.raises(ConfigError, match="set options.trust_store"):
        _deliver(peer, "correct", trust_store=None)
    assert peer.requests == before


def test_a_catalog_without_a_trust_store_does_not_validate():
    data = load_file(ROOT / "catalog.yaml").data
    del data["systems"]["duo-verzuim"]["environments"]["acceptatie"]["options"]["trust_store"]
    with pytest.raises(ValueError, match=r"signs its answers: set options.trust_store .* for environment\(s\): acceptatie"):
        Catalog.model_validate(data)


def test_the_sandbox_stand_in_signs_its_answers_so_koppel_accepts_them(tmp_path):
    """The DUO ROD stand-in answers like DUO: signed with the certificate of the sandbox trust store."""
    from sandbox.runner import Sandbox

    box = Sandbox(ROOT, names=["duo-rod"], free_ports=True, include_services=False)
    box.start()
    try:
        target = SoapCallTarget(SoapTarget(type="soap", wsdl=ROD_WSDL, operation="aanleveren_inschrijving",
                                           reference="identificatiecodeBedrijfsdocument"), _context(box.url("duo-rod")))
        try:
            [outcome] = target.write([Item(key="e1", source_key="e1", payload=PAYLOAD)])
        finally:
            target.close()
    finally:
        box.stop()
    assert outcome.ok, outcome.error
    assert outcome.reference


CASES = ["correct", *SPOILED]


def test_through_the_engine_only_the_correct_answer_is_delivered(peer, tmp_path):
    """One record per case through the engine: 1 delivered, 8 dead letters, each naming its reason."""
    import shutil
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "engine"))
    import engine_fakes as fakes

    from plugins.soap import plugin as soap_plugin
    from runtime.engine import Engine
    from runtime.plugin import Record

    shutil.copy(ROOT / "catalog.yaml", tmp_path / "catalog.yaml")  # duo-rod's profile and our OIN
    env = _context(peer.url).system
    options = {**env.options, "signing_key": f"${{file:{ROOT}/var/sandbox/pki/koppel.key}}",
               "signing_cert": str(ROOT / "var/sandbox/pki/koppel.crt"),
               "trust_store": str(ROOT / "sandbox/secrets/duo-standin-signing.crt")}
    system = {"url": peer.url, "oin": env.oin, "options": options}
    fakes.SOURCES["enrollments"] = [
        Record(key=f"e{n}", data={**PAYLOAD, "inschrijvingvolgnummer": str(n)}, object="enrollment")
        for n in range(1, len(CASES) + 1)]
    registry = fakes.registry({"soap": soap_plugin})
    interface = {"id": 15, "objects": ["enrollment"], "source": {"type": "memory", "name": "enrollments"},
                 "targets": [{"type": "soap", "system": "duo-rod", "wsdl": str(ROOT / ROD_WSDL),
                              "operation": "aanleveren_inschrijving", "reference": "identificatiecodeBedrijfsdocument"}]}
    project = fakes.make_project(tmp_path, registry, [interface], {"duo-rod": system})
    engine = Engine(project, registry, "sandbox", state_url=f"sqlite:///{tmp_path / 'state.db'}")
    peer.case = "by record"
    try:
        summary = engine.run_interface(15)
        letters = {d["source_key"]: d for d in engine.store.dead_letters(interface_id=15)}
    finally:
        engine.close()
        fakes.SOURCES.clear()
    assert (summary.read, summary.delivered, summary.dead) == (len(CASES), 1, len(SPOILED)), summary
    assert sorted(letters) == [f"e{n}" for n in range(2, len(CASES) + 1)]
    for n, case in enumerate(CASES[1:], start=2):
        letter = letters[f"e{n}"]
        assert letter["error_class"] == "record" and letter["error_code"] == "untrusted-answer", letter
        assert SPOILED[case] in letter["reason"], (case, letter["reason"])
        assert "111222333" not in letter["reason"]  # the BSN of the payload is in no reason
