"""Request bodies (JSON, XML, form) out and response bodies (JSON, XML) in.

XML is the plain "record as elements" shape: ``{"student": {"id": 1, "naam": "A"}}`` becomes
``<student><id>1</id><naam>A</naam></student>``; a list repeats its element; keys starting with
``@`` are attributes. A payload that is not a one-key dict is wrapped in ``<record>``. Responses
in XML come back as the same dict shape (repeated elements become lists; text only → a string),
so JMESPath expressions work on both. Responses are parsed by the shared hardened parser
(plugins/codecs/safexml.py): a DTD, a document deeper than 100 levels or larger than 10 MB is
refused as a RecordError naming what was refused; the same answer again would be refused again.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import httpx

from runtime.errors import RecordError

from plugins.codecs import safexml

from . import errors

JSON = "application/json"


def encode(payload: Any, kind: str) -> tuple[bytes, str]:
    """``payload`` as request bytes and their content type."""
    if kind == "json":
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode(), JSON
    if kind == "xml":
        return to_xml(payload), "application/xml; charset=utf-8"
    if kind == "form":
        if not isinstance(payload, dict):
            raise TypeError("a form body needs a record (a mapping of field to value)")
        flat = {k: v if isinstance(v, str) else json.dumps(v, default=str) for k, v in payload.items() if v is not None}
        return urlencode(flat).encode(), "application/x-www-form-urlencoded"
    raise ValueError(f"unknown body kind '{kind}'")


def to_xml(payload: Any) -> bytes:
    if isinstance(payload, dict) and len(payload) == 1 and not next(iter(payload)).startswith("@"):
        (tag, value), = payload.items()
    else:
        tag, value = "record", payload
    root = ET.Element(tag)
    _fill(root, value)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            if key.startswith("@"):
                element.set(key[1:], _text(child))
            elif isinstance(child, list):
                for each in child:
                    _fill(ET.SubElement(element, key), each)
            else:
                _fill(ET.SubElement(element, key), child)
    elif value is not None:
        element.text = _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def decode(response: httpx.Response, what: str) -> Any:
    """The parsed body: JSON or XML by content type (JSON when unsaid), None when empty."""
    content = response.content
    if not content.strip():
        return None
    ctype = response.headers.get("content-type", "").lower()
    if "xml" in ctype:
        try:
            return from_xml(content)
        except safexml.MalformedXML as exc:
            if exc.code == "xml":  # not well-formed: a truncated answer, worth another try
                raise errors.malformed(what, f"XML: {exc}") from None
            raise RecordError(f"{what}: XML answer refused ({exc})", code=exc.code) from None
        except safexml.UnsafeXML as exc:
            raise RecordError(f"{what}: XML answer refused ({exc})", code=exc.code) from None
    if "json" in ctype or not ctype or content.lstrip()[:1] in (b"{", b"["):
        try:
            return json.loads(content)
        except ValueError as exc:
            raise errors.malformed(what, f"JSON: {type(exc).__name__} at position {getattr(exc, 'pos', '?')}") from None
    if ctype.startswith("text/html"):
        # A proxy's or load balancer's error page where the API should have answered.
        raise errors.malformed(what, "an HTML page instead of data")
    return response.text


def from_xml(content: bytes) -> Any:
    root = safexml.parse(content)
    return {_local(root.tag): _element(root)}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _element(element: Any) -> Any:
    children = [c for c in element if isinstance(c.tag, str)]  # not comments or processing instructions
    if not children and not element.attrib:
        return (element.text or "").strip()
    out: dict[str, Any] = {f"@{_local(k)}": v for k, v in element.attrib.items()}
    for child in children:
        key, value = _local(child.tag), _element(child)
        if key in out:
            if not isinstance(out[key], list):
                out[key] = [out[key]]
            out[key].append(value)
        else:
            out[key] = value
    text = (element.text or "").strip()
    if text:
        out["#text"] = text
    return out
