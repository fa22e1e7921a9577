"""The one XML parser for everything a partner or peer sends: files, REST answers, SOAP messages.

No data exchange of the college needs a DTD, so a document that declares one (a DOCTYPE, and with
it any ENTITY) is refused, whatever it would have declared. The refusal looks at what libxml2
parsed (the tree's docinfo, checked when the root element starts, before the body is read), not
at the bytes, so it holds for a UTF-16 document, a DOCTYPE after a long comment, or any encoding
the document names. The parser itself never resolves an entity, loads a DTD or touches the
network, and refuses huge trees; on top of that the document's size and nesting are capped, so a
100,000-deep document is refused at the cap instead of exhausting the stack of whoever walks it.
"""

from __future__ import annotations

import io

from lxml import etree

#: 10 MB: far above any answer or file of the college's partners, far below what hurts a daemon
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
#: element nesting; real documents (RIO, ROD, partner files) stay under 20
DEFAULT_MAX_DEPTH = 100


class XMLRefused(ValueError):
    """The document cannot be read safely; ``code`` says why (for dead letters and metrics)."""

    code = "xml"


class UnsafeXML(XMLRefused):
    """The document declares a DTD (and so possibly entities): an XXE attempt or a broken peer."""

    code = "xml-dtd"


class MalformedXML(XMLRefused):
    """Not well-formed XML, larger or deeper than allowed."""

    def __init__(self, message: str, code: str = "xml") -> None:
        super().__init__(message)
        self.code = code


def parse(content: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH,
          remove_blank_text: bool = False) -> etree._Element:
    """The root element of ``content``; UnsafeXML or MalformedXML when it cannot be trusted."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    if len(data) > max_bytes:
        raise MalformedXML(f"document of {len(data)} bytes exceeds the limit of {max_bytes}", "too-large")
    events = etree.iterparse(
        io.BytesIO(data), events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False,
        dtd_validation=False, huge_tree=False, remove_blank_text=remove_blank_text, remove_comments=False,
    )
    depth = 0
    root = None
    try:
        for event, element in events:
            if event == "end":
                depth -= 1
                continue
            if root is None:
                root = element
                _refuse_dtd(element.getroottree().docinfo)
            depth += 1
            if depth > max_depth:
                raise MalformedXML(f"elements nested deeper than {max_depth} levels (line {element.sourceline})", "too-deep")
    except etree.XMLSyntaxError as exc:
        if "DOCTYPE" in str(exc.msg) or "Entity" in str(exc.msg):
            # libxml2 gives up inside a declaration before the root element starts
            raise UnsafeXML(f"document declares a DTD or entities: {exc.msg}") from None
        raise MalformedXML(f"not well-formed XML: {exc.msg}") from None
    if root is None:  # pragma: no cover - iterparse raises on an empty document
        raise MalformedXML("not well-formed XML: no root element")
    _refuse_dtd(root.getroottree().docinfo)
    return root


def _refuse_dtd(docinfo) -> None:
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXML(f"document declares a DTD ({docinfo.doctype or 'DOCTYPE'}); refused, nothing in it was resolved")


def parse_file(path) -> etree._Element:
    """A trusted local contract file (WSDL/XSD): still no entities, no network."""
    with open(path, "rb") as handle:
        data = handle.read()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False)
    try:
        return etree.fromstring(data, parser=parser, base_url=str(path))
    except etree.XMLSyntaxError as exc:
        raise MalformedXML(f"{path}: not well-formed XML: {exc.msg}") from None
