"""Answers no honest SOAP service gives: entities, DTDs, garbage, HTML error pages, huge bodies.

A tiny server on 127.0.0.1 answers whatever the test puts in ``peer.answer``; the file the
external entity points at must never be read.
"""

from __future__ import annotations

import socket

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plugins.soap import xmlsafe
from plugins.soap.spec import SoapTarget
from plugins.soap.target import SoapCallTarget
from runtime.errors import RecordError, TransientError
from runtime.plugin import Item
from sandbox.runner import _serve
from soap_helpers import ECK_WSDL, HPGN

ENVELOPE = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    '<e:retrieveStampseudonymResponse xmlns:e="http://ketenid.nl/eck/schemas/v1_0">'
    "<e:stampseudonym>{value}</e:stampseudonym></e:retrieveStampseudonymResponse></soapenv:Body></soapenv:Envelope>"
)


class Peer:
    def __init__(self) -> None:
        self.answer: tuple[int, bytes, str] = (200, b"", "text/xml")
        self.requests = 0

        async def endpoint(request: Request) -> Response:
            self.requests += 1
            status, body, media = self.answer
            return Response(body, status_code=status, media_type=media)

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/eck"
        self.server, self.thread = _serve(Starlette(routes=[Route("/eck", endpoint, methods=["POST"])]), sock, "hostile")


@pytest.fixture(scope="module")
def peer():
    p = Peer()
    yield p
    p.server.should_exit = True


@pytest.fixture()
def call(peer, context, tmp_path):
    def run(status: int, body: bytes | str, media: str = "text/xml"):
        peer.answer = (status, body.encode() if isinstance(body, str) else body, media)
        t = SoapCallTarget(SoapTarget(type="soap", wsdl=ECK_WSDL, operation="retrieveStampseudonym"), context("kennisnet", url=peer.url))
        try:
            outcomes = t.write([Item(key="s", source_key="s", payload={"hpgn": HPGN})])
        finally:
            t.close()
        return outcomes[0]

    return run


def test_a_plain_answer_is_read(call):
    outcome = call(200, ENVELOPE.format(value="https://ketenid.nl/sppilot/x"))
    assert outcome.ok and outcome.response == {"stampseudonym": "https://ketenid.nl/sppilot/x"}


def test_external_entity_is_refused_and_never_resolved(call, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    body = f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}">]>' + ENVELOPE.format(value="&xxe;")
    outcome = call(200, body)
    assert isinstance(outcome.error, RecordError) and outcome.error.code == "unsafe-xml"
    assert "TOP-SECRET-CONTENT" not in str(outcome.error) and outcome.response is None


def test_billion_laughs_is_refused(call):
    body = '<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>' + ENVELOPE.format(value="&b;")
    outcome = call(200, body)
    assert outcome.error.code == "unsafe-xml"


def test_malformed_answer_is_transient(call):
    # a call's transient failure is its item's Outcome (runtime/plugin.py), not an exception
    error = call(200, "<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'><soapenv:Body>").error
    assert isinstance(error, TransientError) and error.code == "malformed-response"


def test_html_error_page_of_a_proxy_is_transient(call):
    error = call(502, "<html><body>Bad gateway</body></html>", "text/html").error
    assert isinstance(error, TransientError) and error.code == "502"


def test_500_without_body_is_transient(call):
    assert isinstance(call(500, b"").error, TransientError)


def test_answer_that_is_not_an_envelope_is_transient(call):
    assert isinstance(call(200, "<hello/>").error, TransientError)


def test_xmlsafe_rejects_declarations_in_any_encoding_and_oversize():
    with pytest.raises(xmlsafe.MalformedXML) as caught:  # lower case is no DOCTYPE to XML: malformed
        xmlsafe.parse(b"<!doctype x><x/>")
    assert caught.value.code == "xml"
    with pytest.raises(xmlsafe.UnsafeXML):  # the refusal reads the decoded document, not its bytes
        xmlsafe.parse('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><x/>'.encode("utf-16"))
    with pytest.raises(xmlsafe.MalformedXML) as caught:
        xmlsafe.parse(b"<x>" + b"a" * 100 + b"</x>", max_bytes=50)
    assert caught.value.code == "too-large"
    assert xmlsafe.parse("<x>\u00e9</x>".encode("utf-16")).text == "\u00e9"  # UTF-16 itself is fine
