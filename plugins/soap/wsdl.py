"""Reading a WSDL cheaply with lxml: operations, SOAP actions, body elements, schemas.

``koppel validate`` uses this to check that an operation exists without loading zeep; the
stand-ins use it to know their operations and to validate bodies against the contract's XSD.
Only local files are read here (a WSDL given as a URL is left to zeep at run time).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from lxml import etree

from . import xmlsafe

WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
XSD = "http://www.w3.org/2001/XMLSchema"
NS = {"wsdl": WSDL, "soap": SOAP11, "xsd": XSD}


@dataclass(frozen=True)
class Operation:
    name: str
    soap_action: str
    input_element: str | None  # Clark notation {ns}name
    output_element: str | None


@dataclass
class WsdlInfo:
    path: Path
    target_namespace: str
    operations: dict[str, Operation] = field(default_factory=dict)
    address: str | None = None
    #: (namespace, schema root element, base path) for every schema of wsdl:types
    schemas: list[tuple[str, etree._Element, Path]] = field(default_factory=list)
    #: {concrete element (Clark)} -> (head element (Clark), type (Clark)): XSD substitution groups
    substitutions: dict[str, tuple[str, str]] = field(default_factory=dict)

    def operation_for_action(self, action: str) -> Operation | None:
        return next((op for op in self.operations.values() if op.soap_action == action), None)

    def operation_for_element(self, clark: str) -> Operation | None:
        return next((op for op in self.operations.values() if op.input_element == clark), None)


def _qname(element: etree._Element, value: str | None) -> str | None:
    if not value:
        return None
    prefix, _, local = value.rpartition(":")
    ns = element.nsmap.get(prefix or None)
    return f"{{{ns}}}{local}" if ns else local


def _message_elements(root: etree._Element) -> dict[str, str | None]:
    """wsdl:message name -> the element of its (single, document/literal) part."""
    result: dict[str, str | None] = {}
    for message in root.iterfind("wsdl:message", NS):
        part = message.find("wsdl:part", NS)
        result[message.get("name")] = _qname(part, part.get("element")) if part is not None else None
    return result


def _collect_schemas(root: etree._Element, base: Path) -> list[tuple[str, etree._Element, Path]]:
    found: list[tuple[str, etree._Element, Path]] = []
    seen: set[Path] = set()

    def visit(schema: etree._Element, where: Path) -> None:
        if schema.find("xsd:element", NS) is not None or schema.find("xsd:complexType", NS) is not None:
            found.append((schema.get("targetNamespace", ""), schema, where))
        for imp in list(schema.iterfind("xsd:import", NS)) + list(schema.iterfind("xsd:include", NS)):
            location = imp.get("schemaLocation")
            if not location or "://" in location:
                continue
            path = (where.parent / location).resolve()
            if path in seen or not path.exists():
                continue
            seen.add(path)
            visit(xmlsafe.parse_file(path), path)

    for schema in root.iterfind("wsdl:types/xsd:schema", NS):
        visit(schema, base)
    return found


def _substitutions(schemas) -> dict[str, tuple[str, str]]:
    result: dict[str, tuple[str, str]] = {}
    for namespace, schema, _ in schemas:
        for element in schema.iterfind("xsd:element", NS):
            head = element.get("substitutionGroup")
            if head:
                concrete = f"{{{namespace}}}{element.get('name')}"
                result[concrete] = (_qname(element, head) or head, _qname(element, element.get("type")) or "")
    return result


def read(path: Path) -> WsdlInfo:
    """The WSDL at ``path`` (cached per file and modification time)."""
    path = Path(path).resolve()
    return _read(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=32)
def _read(path: Path, _mtime: int) -> WsdlInfo:
    root = xmlsafe.parse_file(path)
    if root.tag != f"{{{WSDL}}}definitions":
        raise xmlsafe.MalformedXML(f"{path.name}: not a WSDL 1.1 document")
    info = WsdlInfo(path=path, target_namespace=root.get("targetNamespace", ""))
    messages = _message_elements(root)
    port_types: dict[str, dict[str, tuple]] = {}
    for port_type in root.iterfind("wsdl:portType", NS):
        ops = {}
        for op in port_type.iterfind("wsdl:operation", NS):
            inp, out = op.find("wsdl:input", NS), op.find("wsdl:output", NS)
            ops[op.get("name")] = (
                messages.get(_local(inp.get("message"))) if inp is not None else None,
                messages.get(_local(out.get("message"))) if out is not None else None,
            )
        port_types[port_type.get("name")] = ops
    for binding in root.iterfind("wsdl:binding", NS):
        ops = port_types.get(_local(binding.get("type")), {})
        for op in binding.iterfind("wsdl:operation", NS):
            name = op.get("name")
            soap_op = op.find("soap:operation", NS)
            action = soap_op.get("soapAction", "") if soap_op is not None else ""
            inp, out = ops.get(name, (None, None))
            info.operations.setdefault(name, Operation(name, action, inp, out))
    address = root.find("wsdl:service/wsdl:port/soap:address", NS)
    info.address = address.get("location") if address is not None else None
    info.schemas = _collect_schemas(root, path)
    info.substitutions = _substitutions(info.schemas)
    return info


def _local(value: str | None) -> str:
    return (value or "").rpartition(":")[2]


def schema(path: Path) -> etree.XMLSchema:
    """An XML Schema validator for every body element of the WSDL's types."""
    info = read(path)
    return _schema(info.path, info.path.stat().st_mtime_ns)


@lru_cache(maxsize=16)
def _schema(path: Path, _mtime: int) -> etree.XMLSchema:
    info = _read(path, _mtime)
    # Inline schemas are copied out with the WSDL's namespace declarations they rely on;
    # file schemas are imported by location. One wrapper schema ties them together.
    wrapper = etree.Element(f"{{{XSD}}}schema", nsmap={"xsd": XSD})
    for namespace, element, where in info.schemas:
        if where == info.path:
            standalone = etree.Element(element.tag, nsmap={**element.getparent().getparent().nsmap, **element.nsmap})
            for key, value in element.attrib.items():
                standalone.set(key, value)
            for child in element:
                standalone.append(copy.deepcopy(child))
            location = _write_inline(standalone, info.path, namespace)
        else:
            location = where
        imp = etree.SubElement(wrapper, f"{{{XSD}}}import", namespace=namespace)
        imp.set("schemaLocation", location.as_uri())
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    doc = etree.fromstring(etree.tostring(wrapper), parser=parser, base_url=info.path.as_uri())
    return etree.XMLSchema(doc)


def _write_inline(schema_element: etree._Element, wsdl_path: Path, namespace: str) -> Path:
    """lxml can only import schemas by location: park an inline schema in a cache file."""
    import hashlib
    import tempfile

    text = etree.tostring(schema_element)
    digest = hashlib.sha256(text + str(wsdl_path).encode()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"koppel-inline-{digest}.xsd"
    if not target.exists():
        tmp = target.with_suffix(f".{__import__('os').getpid()}.tmp")
        tmp.write_bytes(text)
        tmp.replace(target)
    return target
