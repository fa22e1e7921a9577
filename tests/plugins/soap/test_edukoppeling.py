"""Signing and verifying 2W-be-S messages with xmlsec, checked against real DUO-signed messages."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from lxml import etree

from plugins.soap import edukoppeling, xmlsafe
from runtime.paths import specs_dir
from sandbox.soap.pki import make_self_signed
from soap_helpers import ROOT, requires_specs

E = edukoppeling
KEY, CERT = make_self_signed("test.sandbox.local", "0000000700025LX00000")


def envelope() -> etree._Element:
    root = etree.fromstring(
        f'<s:Envelope xmlns:s="{E.SOAP_ENV}"><s:Header/><s:Body><m:ping xmlns:m="urn:x"><m:a>1</m:a></m:ping></s:Body></s:Envelope>'
    )
    E.add_addressing(root, E.Addressing(to="https://duo.example/x?oin=00000001800866472000", action="urn:x/ping",
                                        sender_oin="0000000700025LX00000", message_id=E.new_message_id()))
    return root


def roundtrip(root: etree._Element) -> etree._Element:
    return xmlsafe.parse(etree.tostring(root))


def test_signature_references_every_part_with_the_duo_algorithms():
    root = envelope()
    E.sign(root, KEY, CERT)
    signed = roundtrip(root)
    info = signed.find(f".//{{{E.DS}}}SignedInfo")
    assert info.find(f"{{{E.DS}}}CanonicalizationMethod").get("Algorithm") == E.C14N_EXC
    assert info.find(f"{{{E.DS}}}SignatureMethod").get("Algorithm") == E.RSA_SHA256
    uris = [r.get("URI") for r in info.iterfind(f"{{{E.DS}}}Reference")]
    assert uris == ["#id-Timestamp", "#id-To", "#id-Action", "#id-MessageID", "#id-From", "#id-Body"]
    assert {d.get("Algorithm") for d in info.iter(f"{{{E.DS}}}DigestMethod")} == {E.SHA256}
    assert signed.find(f".//{{{E.WSSE}}}BinarySecurityToken").get("ValueType") == E.X509V3
    assert E.read_addressing(signed)["From"].endswith("?oin=0000000700025LX00000")
    E.verify(signed)


@pytest.mark.parametrize("part", ["Body", "To", "Action", "MessageID", "From"])
def test_a_changed_part_breaks_the_signature(part):
    root = envelope()
    E.sign(root, KEY, CERT)
    signed = roundtrip(root)
    node = signed.find(f".//{{{E.SOAP_ENV}}}Body//{{urn:x}}a") if part == "Body" else signed.find(f".//{{{E.WSA}}}{part}")
    target = node if part != "From" else node[0]
    target.text = (target.text or "") + "x"
    with pytest.raises(E.SignatureProblem, match="does not verify"):
        E.verify(signed)


def test_a_body_only_signature_is_refused():
    """What zeep's BinarySignature produces: DUO answers Client.EK0031."""
    root = envelope()
    E.sign(root, KEY, CERT)
    signed = roundtrip(root)
    for ref in list(signed.iterfind(f".//{{{E.DS}}}Reference")):
        if ref.get("URI") != "#id-Body":
            ref.getparent().remove(ref)
    with pytest.raises(E.SignatureProblem, match="not signed"):
        E.verify(signed)


def test_a_wrapped_body_is_refused():
    root = envelope()
    E.sign(root, KEY, CERT)
    signed = roundtrip(root)
    body = signed.find(f"{{{E.SOAP_ENV}}}Body")
    evil = copy.deepcopy(body)
    evil.set(f"{{{E.WSU}}}Id", "other")
    body.getparent().replace(body, evil)
    signed.find(f"{{{E.SOAP_ENV}}}Header").append(body)  # the signed original hidden in the header
    with pytest.raises(E.SignatureProblem):
        E.verify(signed)


def test_an_expired_timestamp_is_refused():
    root = envelope()
    E.sign(root, KEY, CERT, now=datetime.now(timezone.utc) - timedelta(hours=1))
    with pytest.raises(E.SignatureProblem, match="expired"):
        E.verify(roundtrip(root))


def _recorded_messages():
    """The signed messages of SURF's recorded RIO exchanges that were not edited afterwards."""
    folder = specs_dir(ROOT) / "duo-rio" / "examples"
    yield "create-relation.xml", (folder / "create-relation.xml").read_bytes()
    edn = (folder / "3-aanleveren_opleidingseenheid.edn").read_text()
    for index, match in enumerate(re.finditer(r':body\s*"((?:[^"\\]|\\.)*)"', edn)):
        yield f"fixture 3 message {index}", json.loads('"' + match.group(1) + '"').encode()


@requires_specs
def test_real_duo_and_surf_signatures_verify():
    names = []
    for name, data in _recorded_messages():
        root = xmlsafe.parse(data)
        created = root.find(f".//{{{E.WSU}}}Created").text
        E.verify(root, now=datetime.fromisoformat(created.replace("Z", "+00:00")))
        names.append(name)
    assert len(names) == 3
