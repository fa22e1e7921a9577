"""Edukoppeling on a SOAP 1.1 envelope: WS-Addressing with OINs and WS-Security signing.

Addressing (every profile)::

    wsa:To        <endpoint>?oin=<receiver OIN>
    wsa:Action    contract namespace + "/" + operation (also the SOAPAction HTTP header)
    wsa:MessageID urn:uuid:<uuid4>  (or the bare UUID: ``messageid_form: bare``, as DUO accepted)
    wsa:From      wsa:Address http://www.w3.org/2005/08/addressing/anonymous?oin=<sender OIN>

Signing (profile 2W-be-S, DUO): a ``wsse:Security`` header with a ``wsse:BinarySecurityToken``
(X509v3), a ``wsu:Timestamp`` (Expires = Created + 10 minutes) and one ``ds:Signature`` with a
separate reference to the Timestamp, To, Action, MessageID, From and the Body; RSA-SHA256,
SHA-256 digests, exclusive c14n. zeep's own BinarySignature signs only the Body, which DUO
refuses (``Client.EK0031``), hence this module.

``verify`` is the receiving side (the stand-ins, and Koppel for DUO's answers, see trust.py): it
checks the signature with xmlsec, using the certificate in the BinarySecurityToken, and checks
that every required part is referenced.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from lxml import etree

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
C14N_EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"

#: the parts a 2W-be-S signature must cover (RelatesTo is added on responses)
SIGNED_PARTS = ("Timestamp", "To", "Action", "MessageID", "From", "Body")
TIMESTAMP_VALIDITY = timedelta(minutes=10)


def with_oin(address: str, oin: str) -> str:
    return f"{address}{'&' if '?' in address else '?'}oin={oin}"


def new_message_id(form: str = "urn") -> str:
    value = str(uuid.uuid4())
    return value if form == "bare" else f"urn:uuid:{value}"


@dataclass(frozen=True)
class Addressing:
    to: str
    action: str
    sender_oin: str
    message_id: str
    relates_to: str | None = None

    def from_address(self) -> str:
        return with_oin(ANONYMOUS, self.sender_oin)


def _header(envelope: etree._Element) -> etree._Element:
    header = envelope.find(f"{{{SOAP_ENV}}}Header")
    if header is None:
        header = etree.Element(f"{{{SOAP_ENV}}}Header")
        envelope.insert(0, header)
    return header


def add_addressing(envelope: etree._Element, addressing: Addressing) -> None:
    """Write the four (five on a response) WS-Addressing headers, each with a wsu:Id."""
    header = _header(envelope)
    for old in header.findall(f"{{{WSA}}}*"):
        header.remove(old)  # zeep's own addressing, if any, is replaced by ours

    def add(name: str, text: str | None = None) -> etree._Element:
        node = etree.SubElement(header, f"{{{WSA}}}{name}", nsmap={"wsa": WSA, "wsu": WSU})
        node.set(f"{{{WSU}}}Id", f"id-{name}")
        if text is not None:
            node.text = text
        return node

    add("To", addressing.to)
    add("Action", addressing.action)
    add("MessageID", addressing.message_id)
    if addressing.relates_to:
        add("RelatesTo", addressing.relates_to)
    sender = add("From")
    etree.SubElement(sender, f"{{{WSA}}}Address").text = addressing.from_address()


def read_addressing(envelope: etree._Element) -> dict[str, str | None]:
    header = envelope.find(f"{{{SOAP_ENV}}}Header")

    def text(path: str) -> str | None:
        if header is None:
            return None
        node = header.find(path, {"wsa": WSA})
        return node.text.strip() if node is not None and node.text else None

    return {
        "To": text("wsa:To"),
        "Action": text("wsa:Action"),
        "MessageID": text("wsa:MessageID"),
        "RelatesTo": text("wsa:RelatesTo"),
        "From": text("wsa:From/wsa:Address"),
    }


def oin_of(address: str | None) -> str | None:
    """The ``oin`` query parameter of an address, or None."""
    if not address or "?" not in address:
        return None
    from urllib.parse import parse_qs

    values = parse_qs(address.split("?", 1)[1]).get("oin")
    return values[0] if values else None


def sign(envelope: etree._Element, key_pem: bytes, cert_pem: bytes, *, now: datetime | None = None) -> None:
    """Sign Timestamp, the addressing headers and the Body (2W-be-S). Addressing must be present."""
    import xmlsec
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    header = _header(envelope)
    body = envelope.find(f"{{{SOAP_ENV}}}Body")
    body.set(f"{{{WSU}}}Id", "id-Body")
    security = etree.Element(f"{{{WSSE}}}Security", nsmap={"wsse": WSSE, "wsu": WSU})
    security.set(f"{{{SOAP_ENV}}}mustUnderstand", "1")
    header.insert(0, security)

    token_id = f"X509-{uuid.uuid4()}"
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(Encoding.DER)
    token = etree.SubElement(security, f"{{{WSSE}}}BinarySecurityToken", EncodingType=BASE64, ValueType=X509V3)
    token.set(f"{{{WSU}}}Id", token_id)
    token.text = base64.b64encode(der).decode("ascii")

    created = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    stamp = etree.SubElement(security, f"{{{WSU}}}Timestamp")
    stamp.set(f"{{{WSU}}}Id", "id-Timestamp")
    etree.SubElement(stamp, f"{{{WSU}}}Created").text = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    etree.SubElement(stamp, f"{{{WSU}}}Expires").text = (created + TIMESTAMP_VALIDITY).strftime("%Y-%m-%dT%H:%M:%SZ")

    signature = xmlsec.template.create(envelope, xmlsec.constants.TransformExclC14N, xmlsec.constants.TransformRsaSha256)
    security.insert(1, signature)
    parts = ["Timestamp", "To", "Action", "MessageID", "From", "Body"]
    if header.find(f"{{{WSA}}}RelatesTo") is not None:
        parts.insert(4, "RelatesTo")
    for part in parts:
        ref = xmlsec.template.add_reference(signature, xmlsec.constants.TransformSha256, uri=f"#id-{part}")
        xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N)
    key_info = xmlsec.template.ensure_key_info(signature)
    str_node = etree.SubElement(key_info, f"{{{WSSE}}}SecurityTokenReference")
    etree.SubElement(str_node, f"{{{WSSE}}}Reference", URI=f"#{token_id}", ValueType=X509V3)

    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem)
    _register_ids(ctx, envelope)
    ctx.sign(signature)


def _register_ids(ctx, envelope: etree._Element) -> None:
    for node in envelope.iter():
        if isinstance(node.tag, str) and node.get(f"{{{WSU}}}Id"):
            ctx.register_id(node, "Id", WSU)


class SignatureProblem(ValueError):
    """The message signature is missing, invalid or does not cover what the profile asks."""


def verify(envelope: etree._Element, *, now: datetime | None = None, answer: bool = False) -> bytes:
    """Check a 2W-be-S signature; returns the signer's certificate (DER). SignatureProblem if not.

    ``answer``: the message answers one of ours, so ``wsa:RelatesTo`` must be there and signed
    too (whether it names our request is the caller's check, see trust.py). Whether the
    certificate is one to trust is the caller's check as well: this only proves the message was
    signed by the key of the certificate it carries.
    """
    import xmlsec

    header = envelope.find(f"{{{SOAP_ENV}}}Header")
    security = header.find(f"{{{WSSE}}}Security") if header is not None else None
    if security is None:
        raise SignatureProblem("no wsse:Security header")
    signature = security.find(f"{{{DS}}}Signature")
    token = security.find(f"{{{WSSE}}}BinarySecurityToken")
    stamp = security.find(f"{{{WSU}}}Timestamp")
    if signature is None or token is None or stamp is None:
        raise SignatureProblem("Signature, BinarySecurityToken or Timestamp missing")
    method = signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
    if method is None or method.get("Algorithm") != RSA_SHA256:
        raise SignatureProblem("signature method is not RSA-SHA256")

    # Each required part must be referenced, and each reference must point at that very part
    # (not at a copy smuggled elsewhere in the message: signature wrapping).
    targets = {
        "Timestamp": stamp,
        "Body": envelope.find(f"{{{SOAP_ENV}}}Body"),
        **{name: header.find(f"{{{WSA}}}{name}") for name in ("To", "Action", "MessageID", "From")},
    }
    if answer:
        targets["RelatesTo"] = header.find(f"{{{WSA}}}RelatesTo")
    referenced = {ref.get("URI", "").lstrip("#") for ref in signature.iterfind(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")}
    for name, node in targets.items():
        node_id = node.get(f"{{{WSU}}}Id") if node is not None else None
        if not node_id or node_id not in referenced:
            raise SignatureProblem(f"{name} is not signed")
    ids = [n.get(f"{{{WSU}}}Id") for n in envelope.iter() if isinstance(n.tag, str) and n.get(f"{{{WSU}}}Id")]
    if len(ids) != len(set(ids)):
        raise SignatureProblem("duplicate wsu:Id values")

    der = base64.b64decode("".join((token.text or "").split()))
    ctx = xmlsec.SignatureContext()
    try:
        ctx.key = xmlsec.Key.from_memory(der, xmlsec.constants.KeyDataFormatCertDer)
    except xmlsec.Error:
        raise SignatureProblem("BinarySecurityToken is not an X.509 certificate") from None
    _register_ids(ctx, envelope)
    try:
        ctx.verify(signature)
    except xmlsec.Error:
        raise SignatureProblem("signature does not verify") from None

    expires = stamp.findtext(f"{{{WSU}}}Expires")
    try:
        expiry = datetime.fromisoformat((expires or "").replace("Z", "+00:00"))
    except ValueError:
        raise SignatureProblem("Timestamp Expires is not a date-time") from None
    if expiry < (now or datetime.now(timezone.utc)):
        raise SignatureProblem("Timestamp has expired")
    return der
