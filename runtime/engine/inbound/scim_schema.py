"""SCIM 2.0 resources checked against the core User and Group schemas and the enterprise User
extension (RFC 7643 §4.1, §4.2, §4.3) before Koppel answers 201 or 200.

The attribute definitions below are RFC 7643 §8.7.1's, written out (tests compare them with the
schema representations in ``specs/scim2`` when those are there). Two differ on purpose, where
§8.7.1 contradicts the RFC's own text: a Group's ``displayName`` is required (§4.2 says
REQUIRED) and ``addresses`` have ``primary`` (§4.1.2 lists it). ``clean()`` returns the resource
Koppel will store: only attributes these schemas define, under their canonical names (SCIM names
are case-insensitive), with the ``schemas`` list reduced to the ones understood. Unknown
attributes and extensions are left out, so they are neither stored nor echoed (RFC 7644 §3.3 lets
a service provider ignore what it does not support); read-only attributes (``id``, ``meta``,
``groups``) are the server's, and ``password`` is never kept: Koppel has no use for it.

A refusal is a SCIM error: ``invalidSyntax`` for a body that is not a resource at all,
``invalidValue`` for a missing required attribute or a value of the wrong type, saying which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.engine.inbound.body import Refusal

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass(frozen=True)
class Attr:
    name: str
    type: str = "string"  # string boolean decimal integer dateTime binary reference complex
    multi: bool = False
    required: bool = False
    mutability: str = "readWrite"  # readOnly: the server's; writeOnly: accepted, never kept
    sub: tuple[Attr, ...] = field(default_factory=tuple)


def _multi(name: str, *, value_type: str = "string", extra: tuple[Attr, ...] = (), mutability: str = "readWrite") -> Attr:
    """The usual multi-valued complex attribute: value, display, type, primary (RFC 7643 §2.4)."""
    return Attr(name, "complex", multi=True, mutability=mutability, sub=(
        Attr("value", value_type), Attr("display"), Attr("type"), Attr("primary", "boolean"), *extra))


_NAME = Attr("name", "complex", sub=tuple(Attr(n) for n in (
    "formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix")))
_ADDRESS = Attr("addresses", "complex", multi=True, sub=tuple(Attr(n) for n in (
    "formatted", "streetAddress", "locality", "region", "postalCode", "country", "type")) + (Attr("primary", "boolean"),))
_GROUPS_SUB = tuple(Attr(n, t, mutability="readOnly") for n, t in (
    ("value", "string"), ("$ref", "reference"), ("display", "string"), ("type", "string")))
_MEMBER_SUB = tuple(Attr(n, t, mutability="immutable") for n, t in (
    ("value", "string"), ("$ref", "reference"), ("type", "string")))

SCHEMAS: dict[str, tuple[Attr, ...]] = {
    USER: (
        Attr("userName", required=True), _NAME, Attr("displayName"), Attr("nickName"),
        Attr("profileUrl", "reference"), Attr("title"), Attr("userType"), Attr("preferredLanguage"),
        Attr("locale"), Attr("timezone"), Attr("active", "boolean"), Attr("password", mutability="writeOnly"),
        _multi("emails"), _multi("phoneNumbers"), _multi("ims"), _multi("photos", value_type="reference"),
        _ADDRESS,
        Attr("groups", "complex", multi=True, mutability="readOnly", sub=_GROUPS_SUB),
        _multi("entitlements"), _multi("roles"), _multi("x509Certificates", value_type="binary"),
    ),
    ENTERPRISE: (
        Attr("employeeNumber"), Attr("costCenter"), Attr("organization"), Attr("division"), Attr("department"),
        Attr("manager", "complex", sub=(Attr("value"), Attr("$ref", "reference"),
                                        Attr("displayName", mutability="readOnly"))),
    ),
    GROUP: (
        Attr("displayName", required=True),
        Attr("members", "complex", multi=True, sub=_MEMBER_SUB),
    ),
}
CORE = {"User": USER, "Group": GROUP}
EXTENSIONS = {"User": (ENTERPRISE,), "Group": ()}
_PY_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str, "reference": str, "dateTime": str, "binary": str, "boolean": bool, "integer": int,
    "decimal": (int, float), "complex": dict}


def invalid(detail: str) -> Refusal:
    return Refusal(400, detail, scim_type="invalidValue")


def find(attrs: tuple[Attr, ...], name: str) -> Attr | None:
    lowered = name.lower()
    return next((a for a in attrs if a.name.lower() == lowered), None)


def clean(resource_type: str, data: Any) -> dict[str, Any]:
    """The resource as Koppel stores it, or Refusal(400) saying what is wrong and where."""
    if not isinstance(data, dict):
        raise Refusal(400, f"a SCIM {resource_type} is a JSON object", scim_type="invalidSyntax")
    core = CORE[resource_type]
    schemas = data.get("schemas")
    if not isinstance(schemas, list) or core not in schemas:
        raise invalid(f"schemas: must list {core}")
    kept: dict[str, Any] = {"schemas": [core]}
    external = _get(data, "externalId")
    if external is not None:
        if not isinstance(external, str) or not external:
            raise invalid("externalId: must be a non-empty string")
        kept["externalId"] = external
    extensions = [u for u in EXTENSIONS[resource_type] if u in schemas]
    urns = {u.lower() for u in EXTENSIONS[resource_type]} | {core.lower()}
    top = {k: v for k, v in data.items() if k.lower() not in urns}
    if isinstance(data.get(core), dict):  # core attributes may also come under the core URN
        top.update(data[core])
    kept.update(_attributes(SCHEMAS[core], top, ""))
    for urn in extensions:
        value = next((v for k, v in data.items() if k.lower() == urn.lower()), None)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise invalid(f"{urn}: must be an object")
        inner = _attributes(SCHEMAS[urn], value, urn + ":")
        if inner:
            kept[urn] = inner
            kept["schemas"].append(urn)
    return kept


def _get(data: dict[str, Any], name: str) -> Any:
    return next((v for k, v in data.items() if k.lower() == name.lower()), None)


def _attributes(attrs: tuple[Attr, ...], values: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        attr = find(attrs, key)
        if attr is None or attr.mutability in ("readOnly", "writeOnly") or value is None:
            continue  # unknown, the server's own, or never kept
        out[attr.name] = _value(attr, value, where + attr.name)
    for attr in attrs:
        if attr.required and out.get(attr.name) in (None, "", []):
            raise invalid(f"{where}{attr.name}: required")
    return out


def _value(attr: Attr, value: Any, where: str) -> Any:
    if attr.multi:
        if not isinstance(value, list):
            raise invalid(f"{where}: multi-valued, must be a list")
        items = [_single(attr, item, f"{where}[{i}]") for i, item in enumerate(value) if item is not None]
        if attr.type == "complex" and sum(1 for i in items if i.get("primary") is True) > 1:
            raise invalid(f"{where}: at most one value may be primary")
        return items
    return _single(attr, value, where)


def _single(attr: Attr, value: Any, where: str) -> Any:
    expected = _PY_TYPES.get(attr.type, str)
    if not isinstance(value, expected) or (attr.type != "boolean" and isinstance(value, bool)):
        raise invalid(f"{where}: must be {'an object' if attr.type == 'complex' else attr.type}")
    if isinstance(value, dict):  # complex, as checked above
        return _attributes(attr.sub, value, where + ".")
    if isinstance(value, str) and len(value) > 2000:
        raise invalid(f"{where}: longer than 2000 characters")
    return value


def schema_resources(base: str) -> list[dict[str, Any]]:
    """The /Schemas answer (RFC 7643 §7): what Koppel understands, in the RFC's representation."""
    names = {USER: "User", GROUP: "Group", ENTERPRISE: "EnterpriseUser"}
    return [{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": urn, "name": names[urn],
             "attributes": [_describe(a) for a in attrs],
             "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{urn}"}}
            for urn, attrs in SCHEMAS.items()]


def _describe(attr: Attr) -> dict[str, Any]:
    described: dict[str, Any] = {"name": attr.name, "type": attr.type, "multiValued": attr.multi,
                                 "required": attr.required, "caseExact": False, "mutability": attr.mutability,
                                 "returned": "never" if attr.mutability == "writeOnly" else "default",
                                 "uniqueness": "server" if attr.name == "userName" else "none"}
    if attr.sub:
        described["subAttributes"] = [_describe(s) for s in attr.sub]
    return described
