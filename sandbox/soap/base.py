"""What every SOAP stand-in shares: envelope, Edukoppeling and signature checks, XSD validation,
Edukoppeling faults, the fault switch and the record of what was received.

A stand-in is a ``SoapStandin`` with a WSDL (the real one from ../shared/specs when present, the
project's own contract otherwise), the path it serves, whether it checks Edukoppeling addressing
and signatures, and one handler per operation. A handler gets the body element and returns the
answer's body element; it may raise ``SoapFault``.

Checks, in the order a real Edukoppeling service makes them (fault code in brackets):
envelope (VersionMismatch.DK0001), SOAPAction (Client.DK0003), wsa:To / Action / MessageID /
From present (DK0005 / DK0006 / DK0007 / EK0020), Action equals SOAPAction (DK0011), From
carries a valid OIN (EK0021), To carries our OIN (EK0022), MessageID is a UUID (EK0023), the
signature covers Timestamp, addressing and Body and verifies with the BinarySecurityToken's
certificate (EK0031), the body validates against the contract's XSD (Client.DK0004). A signed
stand-in signs its answers the way DUO does (Timestamp, To, Action, MessageID, RelatesTo, From,
Body), with sandbox/secrets/duo-standin-signing.key; Koppel trusts its certificate in sandbox.

Fault switch (sandbox/standin.py): "slow", "500", "429" as everywhere; "fault" answers a SOAP
fault with the given ``code`` (default Server.DK0051); "reject" refuses the matching record the
way the real system does (the stand-in's ``reject`` hook, default Client.DK0004).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime import redact
from sandbox.standin import Fault, StandinContext, apply_common_fault, control_routes

from plugins.soap import edukoppeling, wsdl, xmlsafe
from plugins.soap.client import xml_to_dict

SOAP_ENV = edukoppeling.SOAP_ENV
OIN = re.compile(r"^[0-9A-Z]{20}$")
UUID = re.compile(r"^(urn:uuid:)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: what a signed stand-in signs its answers with, as DUO signs with its PKIoverheid certificate;
#: the certificate is the sandbox environment's trust_store in catalog.yaml
ANSWER_KEY = PROJECT_ROOT / "sandbox" / "secrets" / "duo-standin-signing.key"
ANSWER_CERT = PROJECT_ROOT / "sandbox" / "secrets" / "duo-standin-signing.crt"


class SoapFault(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Exchange:
    """One accepted request, as a handler sees it."""

    operation: str
    action: str | None
    message_id: str | None
    sender_oin: str | None
    signed: bool
    fault: Fault | None  # the "reject" fault that applies to this request, if any


Handler = Callable[[etree._Element, Exchange], etree._Element]


def contract(ctx: StandinContext, specs_relative: str, fallback_relative: str) -> Path:
    """The real contract from ../shared/specs, or the project's own one."""
    real = ctx.contract(specs_relative)
    return real if real is not None else Path(ctx.project_root) / "contracts" / fallback_relative


def own_contract(ctx: StandinContext, relative: str) -> Path:
    """One of the project's own contracts (contracts/...), for systems without a public one."""
    return Path(ctx.project_root) / "contracts" / relative


class SoapStandin:
    def __init__(
        self,
        ctx: StandinContext,
        *,
        wsdl_path: Path,
        path: str,
        handlers: dict[str, Handler],
        edukoppeling_checks: bool,
        signed: bool,
        reject: Callable[[etree._Element, Exchange], etree._Element] | None = None,
    ) -> None:
        self.ctx = ctx
        self.info = wsdl.read(wsdl_path)
        self.schema = wsdl.schema(wsdl_path)
        self.path = path
        self.handlers = handlers
        self.edukoppeling = edukoppeling_checks
        self.signed = signed
        self.reject = reject
        self.own_oin = getattr(ctx.settings, "oin", None) if ctx.settings is not None else None

    # -- the app ----------------------------------------------------------------------------

    def app(self, extra_routes: list[Route] | None = None) -> Starlette:
        routes = [Route(self.path, self.endpoint, methods=["POST"]), *control_routes(self.ctx), *(extra_routes or [])]
        return Starlette(routes=routes)

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        fault = self.ctx.faults.take(body)
        common = await apply_common_fault(fault)
        if common is not None:
            return common
        if fault is not None and fault.mode == "fault":
            return fault_response(fault.code or "Server.DK0051", "service unavailable (sandbox fault)")
        try:
            return self.handle(body, request.headers.get("SOAPAction"), fault if fault and fault.mode == "reject" else None)
        except SoapFault as exc:
            self.ctx.received.add("refused", {"code": exc.code, "reason": exc.message})
            return fault_response(exc.code, exc.message)

    def handle(self, content: bytes, soap_action: str | None, reject: Fault | None) -> Response:
        try:
            envelope = xmlsafe.parse(content)
        except (xmlsafe.UnsafeXML, xmlsafe.MalformedXML) as exc:
            raise SoapFault("VersionMismatch.DK0001", f"invalid envelope: {exc}") from None
        if envelope.tag != f"{{{SOAP_ENV}}}Envelope":
            raise SoapFault("VersionMismatch.DK0001", "not a SOAP 1.1 envelope")
        action = (soap_action or "").strip().strip('"')
        operation = self.info.operation_for_action(action)
        if operation is None:
            raise SoapFault("Client.DK0003", "invalid SOAPAction")
        addressing = edukoppeling.read_addressing(envelope)
        if self.edukoppeling:
            self._check_addressing(addressing, action)
        if self.signed:
            try:
                edukoppeling.verify(envelope)
            except edukoppeling.SignatureProblem as exc:
                raise SoapFault("Client.EK0031", f"message signature missing or invalid: {exc}") from None
        body = envelope.find(f"{{{SOAP_ENV}}}Body")
        element = next((c for c in body if isinstance(c.tag, str)), None) if body is not None else None
        if element is None or element.tag != operation.input_element:
            raise SoapFault("Client.DK0004", f"body is not a {etree.QName(operation.input_element).localname}")
        standalone = etree.fromstring(etree.tostring(element))
        if not self.schema.validate(standalone):
            error = self.schema.error_log.filter_from_errors()[0] if self.schema.error_log else None
            raise SoapFault("Client.DK0004", f"niet conform XSD: {error.message if error else 'invalid'}")
        exchange = Exchange(
            operation=operation.name,
            action=action,
            message_id=addressing["MessageID"],
            sender_oin=edukoppeling.oin_of(addressing["From"]),
            signed=self.signed,
            fault=reject,
        )
        if reject is not None:
            if self.reject is None or reject.code:
                raise SoapFault(reject.code or "Client.DK0004", "record rejected (sandbox fault)")
            answer = self.reject(element, exchange)
            self._record("rejected", operation.name, element, exchange)
        else:
            handler = self.handlers.get(operation.name)
            if handler is None:
                raise SoapFault("Server.DK0050", f"{operation.name} is not served by the sandbox")
            answer = handler(element, exchange)
            self._record("accepted", operation.name, element, exchange)
        return self._answer(answer, exchange, operation)

    def _check_addressing(self, wsa: dict[str, str | None], action: str) -> None:
        for name, code in (("To", "DK0005"), ("Action", "DK0006"), ("MessageID", "DK0007"), ("From", "EK0020")):
            if not wsa[name]:
                raise SoapFault(f"Client.{code}", f"wsa:{name} missing")
        if wsa["Action"] != action:
            raise SoapFault("Client.DK0011", "wsa:Action differs from SOAPAction")
        sender = edukoppeling.oin_of(wsa["From"])
        if not sender or not OIN.match(sender):
            raise SoapFault("Client.EK0021", "wsa:From has no valid OIN")
        if self.own_oin and edukoppeling.oin_of(wsa["To"]) != self.own_oin:
            raise SoapFault("Client.EK0022", "wsa:To has no valid OIN")
        if not UUID.match(wsa["MessageID"] or ""):
            raise SoapFault("Client.EK0023", "wsa:MessageID is not a UUID")

    def _record(self, kind: str, operation: str, element: etree._Element, exchange: Exchange) -> None:
        # the stand-in plays DUO, which may see a BSN; what it keeps for tests and the demo may not
        self.ctx.received.add(
            kind,
            redact.data(xml_to_dict(element)),
            operation=operation,
            message_id=exchange.message_id,
            sender_oin=exchange.sender_oin,
            signed=exchange.signed,
        )

    def _answer(self, body_element: etree._Element, exchange: Exchange, operation) -> Response:
        envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soapenv": SOAP_ENV})
        if self.edukoppeling:
            edukoppeling.add_addressing(
                envelope,
                edukoppeling.Addressing(
                    to=edukoppeling.with_oin(edukoppeling.ANONYMOUS, exchange.sender_oin or ""),
                    action=f"{exchange.action}Response",
                    sender_oin=self.own_oin or "",
                    message_id=f"urn:uuid:{uuid.uuid4()}",
                    relates_to=exchange.message_id,
                ),
            )
        etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body").append(body_element)
        if self.signed and self.edukoppeling:  # 2W-be-S both ways: the answer is signed as well
            edukoppeling.sign(envelope, ANSWER_KEY.read_bytes(), ANSWER_CERT.read_bytes())
        return Response(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"), media_type="text/xml; charset=utf-8")


def fault_response(code: str, message: str) -> Response:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soapenv": SOAP_ENV})
    fault = etree.SubElement(etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body"), f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soapenv:{code}"
    etree.SubElement(fault, "faultstring").text = message
    return Response(
        etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"),
        status_code=500,
        media_type="text/xml; charset=utf-8",
    )


def build(namespace: str, name: str, content: Any) -> etree._Element:
    """An element from plain data: dict → children in order, list → repeats, scalar → text."""
    element = etree.Element(f"{{{namespace}}}{name}", nsmap={"ns": namespace})
    _fill(element, namespace, content)
    return element


def _fill(element: etree._Element, namespace: str, content: Any) -> None:
    if isinstance(content, dict):
        for key, value in content.items():
            if value is None:
                continue
            for one in value if isinstance(value, list) else [value]:
                _fill(etree.SubElement(element, f"{{{namespace}}}{key}"), namespace, one)
    elif isinstance(content, bool):
        element.text = "true" if content else "false"
    elif content is not None:
        element.text = str(content)


def text(element: etree._Element, path: str) -> str | None:
    """Text of a child by local names (``a/b``), namespace-agnostic."""
    node = element
    for part in path.split("/"):
        node = next((c for c in node if isinstance(c.tag, str) and etree.QName(c).localname == part), None)
        if node is None:
            return None
    return (node.text or "").strip() or None


def settings_profile_signed(ctx: StandinContext, default: bool) -> bool:
    """Whether this stand-in demands a signature: the catalog's profile for the system, if known."""
    import yaml

    try:
        with open(Path(ctx.project_root) / "catalog.yaml", encoding="utf-8") as handle:
            system = (yaml.safe_load(handle).get("systems") or {}).get(ctx.name) or {}
    except (OSError, AttributeError):
        return default
    profile = str(system.get("profile") or "")
    return profile.upper().endswith("-S") or profile.upper().endswith("-SE") if profile else default
