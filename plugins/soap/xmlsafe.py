"""Hardened XML parsing for everything a SOAP peer sends us (and a stand-in receives).

A SOAP message has no business carrying a DTD: SOAP 1.1 forbids it. So the rule is simple and
strict: a document with a ``<!DOCTYPE`` or ``<!ENTITY`` declaration is refused before any parser
sees it, and the parser itself is configured to never resolve entities, never load a DTD, never
touch the network and never accept a "huge tree". Nothing in such a document is ever resolved.
"""

from __future__ import annotations

import re

from lxml import etree

#: 10 MB: far above any Edukoppeling answer, far below what hurts a daemon
DEFAULT_MAX_BYTES = 10 * 1024 * 1024

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class UnsafeXML(ValueError):
    """The document declares a DTD or entities (an XXE attempt or a broken peer)."""


class MalformedXML(ValueError):
    """Not well-formed XML, or larger than allowed."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse(content: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """The root element of ``content``; UnsafeXML or MalformedXML when it cannot be trusted."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    if len(data) > max_bytes:
        raise MalformedXML(f"document of {len(data)} bytes exceeds the limit of {max_bytes}")
    # UTF-16 documents would hide the declaration from the byte scan; Edukoppeling is UTF-8 only
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise MalformedXML("document is not UTF-8")
    if _DECLARATION.search(data):
        raise UnsafeXML("document declares a DTD or entities; refused without reading it")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedXML(f"not well-formed XML: {exc.msg}") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXML("document declares a DTD; refused")
    return root


def parse_file(path) -> etree._Element:
    """A trusted local contract file (WSDL/XSD): still no entities, no network."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        return etree.fromstring(data, parser=_parser(), base_url=str(path))
    except etree.XMLSyntaxError as exc:
        raise MalformedXML(f"{path}: not well-formed XML: {exc.msg}") from None
