"""XML for the shared file formats: hardened reading (records by element name, XSD check) and writing.

Parsing is the shared hardened parser (plugins/codecs/safexml.py): no DTD is loaded, no entity
expanded, no network touched, documents larger than ``max_bytes`` or nested too deeply are refused
and a document with a DOCTYPE (in any encoding, anywhere before the root) is refused outright. XML → dict: attributes become ``@name``, child elements their local name (a repeated
child becomes a list), text-only elements a string; an element with attributes and text keeps the
text under ``#text``. Namespaces are dropped from keys. dict → XML is the inverse.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from runtime.errors import ConfigError, RecordError

from plugins.codecs import safexml
from plugins.codecs.base import FileFormatError, Writer, text_value
from plugins.formats import XmlFormat


def read_xml(fmt: XmlFormat, stream: IO[bytes], project_root: Path | None) -> Iterator[dict]:
    from lxml import etree

    data = _read_limited(stream, fmt.max_bytes)
    try:
        root = safexml.parse(data, max_bytes=fmt.max_bytes, remove_blank_text=True)
    except safexml.XMLRefused as exc:
        raise FileFormatError(str(exc), code=exc.code) from None
    schema = load_xsd(fmt.xsd, project_root) if fmt.xsd else None
    if schema is not None and not schema.validate(root):
        first = schema.error_log.filter_from_errors()[0]
        raise FileFormatError(f"the document does not match the XSD: line {first.line}: {first.message}",
                              code="xsd")
    name = fmt.record
    if ":" in name:  # prefix:local with the prefix declared in namespaces
        prefix, local = name.split(":", 1)
        name = f"{{{fmt.namespaces.get(prefix, '')}}}{local}"
        matches = (lambda el: el.tag == name)
    else:
        matches = (lambda el: etree.QName(el).localname == name)
    for element in root.iter(etree.Element):
        if matches(element):
            value = element_to_dict(element)
            yield value if isinstance(value, dict) else {"#text": value}


def _read_limited(stream: IO[bytes], limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise FileFormatError(f"the document is larger than max_bytes ({limit})", code="too-large")
    return data


_xsd_cache: dict[str, Any] = {}


def load_xsd(path: str, project_root: Path | None):
    """The XSD at ``path`` (``${specs}/...`` or relative to the project), compiled once.

    None when a public contract (``${specs}/...``) is not on this machine: documents are then
    read unchecked, with a warning, as everywhere else in Koppel. A project's own XSD that is
    missing is a configuration error.
    """
    from lxml import etree

    from runtime.paths import SPECS_PLACEHOLDER, expand

    file = expand(path, project_root or Path.cwd())
    cache_key = str(file)
    if cache_key not in _xsd_cache:
        if not file.exists() and path.startswith(SPECS_PLACEHOLDER):
            logging.getLogger(__name__).warning("XSD %s is absent (KOPPEL_SPECS_DIR): XML is not checked", file)
            _xsd_cache[cache_key] = None
        elif not file.exists():
            raise ConfigError(f"XSD not found: {file}")
        else:
            try:
                _xsd_cache[cache_key] = etree.XMLSchema(etree.parse(str(file), parser=etree.XMLParser(no_network=True)))
            except (etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
                raise ConfigError(f"XSD {file} cannot be loaded: {exc}") from None
    return _xsd_cache[cache_key]


def element_to_dict(element) -> Any:
    from lxml import etree

    children = [c for c in element if isinstance(c.tag, str)]
    attributes = {f"@{etree.QName(k).localname}": v for k, v in element.attrib.items()}
    text = (element.text or "").strip()
    if not children and not attributes:
        return text or None
    result: dict[str, Any] = dict(attributes)
    for child in children:
        name = etree.QName(child).localname
        value = element_to_dict(child)
        if name in result:
            existing = result[name]
            result[name] = existing + [value] if isinstance(existing, list) else [existing, value]
        else:
            result[name] = value
    if text:
        result["#text"] = text
    return result


class XmlWriter(Writer):
    """``<root><record>...</record>...</root>``; with an XSD, every record is checked in a
    one-record document first, so a record that breaks the contract fails alone."""

    def __init__(self, fmt: XmlFormat, project_root: Path | None, *, single: bool = False) -> None:
        self.fmt = fmt
        # one record per file and no root declared: the record element is the document element
        self.bare = single and not fmt.root
        self.root = fmt.root or "records"
        self.namespace = fmt.namespaces.get("") or None
        self.schema = load_xsd(fmt.xsd, project_root) if fmt.xsd else None

    def _tag(self, name: str) -> str:
        return f"{{{self.namespace}}}{name}" if self.namespace else name

    def begin(self) -> bytes:
        if self.bare:
            return b'<?xml version="1.0" encoding="UTF-8"?>\n'
        ns = f' xmlns="{self.namespace}"' if self.namespace else ""
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<{self.root}{ns}>\n'.encode()

    def record(self, data: dict, *, first: bool) -> bytes:
        from lxml import etree

        element = etree.Element(self._tag(self.fmt.record), nsmap={None: self.namespace} if self.namespace else None)
        try:
            self._fill(element, data)
        except ValueError as exc:  # lxml: control characters, bad names
            raise RecordError(f"cannot be written as XML: {exc}", code="xml") from None
        if self.schema is not None:
            self._check(element)
        text = etree.tostring(element, encoding="unicode")
        if self.namespace and not self.bare:  # the root declares the default namespace once
            text = text.replace(f' xmlns="{self.namespace}"', "", 1)
        return (text + "\n").encode()

    def _check(self, element) -> None:
        from copy import deepcopy

        from lxml import etree

        if self.fmt.root and not self.bare:
            wrapper = etree.Element(self._tag(self.root), nsmap={None: self.namespace} if self.namespace else None)
            wrapper.append(deepcopy(element))
        else:
            wrapper = element
        if not self.schema.validate(wrapper):
            first = self.schema.error_log.filter_from_errors()[0]
            raise RecordError(f"does not match the XSD: {first.message}", code="xsd")

    def _fill(self, element, value: Any) -> None:
        from lxml import etree

        if isinstance(value, dict):
            for key, child in value.items():
                if key.startswith("@"):
                    if child is not None:
                        element.set(key[1:], text_value(child))
                elif key == "#text":
                    element.text = text_value(child)
                else:
                    for item in child if isinstance(child, list) else [child]:
                        self._fill(etree.SubElement(element, self._tag(key)), item)
        elif value is not None:
            element.text = text_value(value)

    def end(self) -> bytes:
        return b"" if self.bare else f"</{self.root}>\n".encode()


