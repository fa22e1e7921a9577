"""Between a mapped payload and zeep: XSD substitution groups, and answers as plain data.

zeep renders an abstract element of a substitution group (RIO's ``aangebodenOpleiding``) as
``<aangebodenOpleiding xsi:type="AangebodenMboOpleiding">``, which DUO's XSD rejects (Client.DK0004).
Payloads therefore name the concrete element, as the real XML does (``aangebodenMboOpleiding``);
``prepare`` turns that into the typed value zeep needs, and ``name_substitutions`` writes the
rendered element under its concrete name without ``xsi:type``. The substitution map comes from
the WSDL's schemas (``wsdl.WsdlInfo.substitutions``), so this works for any contract.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from lxml import etree

from runtime import redact
from runtime.errors import ContractError

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


class Bodies:
    def __init__(self, client, substitutions: dict[str, tuple[str, str]]) -> None:
        self.client = client
        #: {concrete element (Clark)} -> (head element (Clark), type (Clark))
        self.substitutions = substitutions

    def prepare(self, value: Any, xsd_type, path: str = "") -> Any:
        """Turn concrete substitution-group element names into typed values zeep can render."""
        if isinstance(value, list):
            return [self.prepare(v, xsd_type, path) for v in value]
        if not isinstance(value, dict) or not hasattr(xsd_type, "elements"):
            return value
        fields = dict(xsd_type.elements)
        result: dict[str, Any] = {}
        for key, item in value.items():
            if key in fields:
                result[key] = self.prepare(item, fields[key].type, f"{path}.{key}")
                continue
            substitution = self._substitution(key, fields)
            if substitution is None:
                result[key] = item  # zeep names the unknown field in its error
                continue
            head, type_clark = substitution
            concrete_type = self.client.get_type(type_clark)

            def typed(one: Any, concrete_type=concrete_type, key=key) -> Any:
                prepared = self.prepare(one, concrete_type, f"{path}.{key}")
                try:
                    return concrete_type(**prepared) if isinstance(prepared, dict) else prepared
                except TypeError as exc:
                    raise ContractError(f"{key}: {redact.text(str(exc))}", path=f"{path}.{key}".lstrip(".")) from None

            converted = [typed(v) for v in item] if isinstance(item, list) else typed(item)
            if head in result and isinstance(result[head], list):
                result[head].extend(converted if isinstance(converted, list) else [converted])
            else:
                result[head] = converted
        return result

    def _substitution(self, key: str, fields: dict) -> tuple[str, str] | None:
        for concrete, (head, type_clark) in self.substitutions.items():
            if etree.QName(concrete).localname == key and etree.QName(head).localname in fields:
                return etree.QName(head).localname, type_clark
        return None

    def name_substitutions(self, envelope: etree._Element) -> None:
        """Write ``<head xsi:type="T">`` as the concrete element of the substitution group."""
        if not self.substitutions:
            return
        by_head_and_type = {(head, type_): concrete for concrete, (head, type_) in self.substitutions.items()}
        for node in envelope.iter():
            if not isinstance(node.tag, str):
                continue
            xsi_type = node.get(XSI_TYPE)
            if not xsi_type:
                continue
            prefix, _, local = xsi_type.rpartition(":")
            type_clark = f"{{{node.nsmap.get(prefix or None, '')}}}{local}"
            concrete = by_head_and_type.get((node.tag, type_clark))
            if concrete:
                node.tag = concrete
                del node.attrib[XSI_TYPE]
        etree.cleanup_namespaces(envelope)


def plain(value: Any) -> Any:
    """zeep's serialised answer as JSON-friendly data (for JMESPath, write-back and storage)."""
    if isinstance(value, dict):
        if "_value_1" in value and all(v is None for k, v in value.items() if k != "_value_1"):
            return plain(value["_value_1"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, etree._Element):
        return xml_to_dict(value)
    return value


def xml_to_dict(element: etree._Element) -> Any:
    children = [c for c in element if isinstance(c.tag, str)]
    if not children:
        return (element.text or "").strip() or None
    result: dict[str, Any] = {}
    for child in children:
        key = etree.QName(child).localname
        value = xml_to_dict(child)
        if key in result:
            if not isinstance(result[key], list):
                result[key] = [result[key]]
            result[key].append(value)
        else:
            result[key] = value
    return result
