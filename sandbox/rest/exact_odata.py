"""Exact Online's OData v2 query options as the stand-in checks them (interface 21).

Exact's REST API is WCF Data Services: a ``$filter`` or ``$select`` that names a property the
entity does not have is refused with 400 and the service's own text, e.g.
``No property 'Modified' exists in type 'Exact.Web.Api.Models.SalesInvoiceLine' at position 0.``
The field lists below are Exact's (``HlpRestAPIResourcesDetails.aspx`` as mirrored by the PHPDoc of
picqer/exact-php-client ``SalesInvoice.php``, ``SalesInvoiceLine.php``, ``Account.php``):
``SalesInvoiceLines`` has no ``Modified``, ``Created`` or ``DeliveryDate``; ``SalesInvoices`` has
``Modified`` and the nested collection ``SalesInvoiceLines`` (reached with ``$expand``, its fields
selected as ``SalesInvoiceLines/ID``).
"""

from __future__ import annotations

import re
from typing import Any

MODEL = "Exact.Web.Api.Models"


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


INVOICE_FIELDS = _names("""
InvoiceID AmountDC AmountDiscount AmountDiscountExclVat AmountFC AmountFCExclVat Created Creator
CreatorFullName Currency DeliverTo DeliverToAddress DeliverToContactPerson DeliverToContactPersonFullName
DeliverToName Description Discount DiscountType Division Document DocumentNumber DocumentSubject DueDate
ExtraDutyAmountFC GAccountAmountFC IncotermAddress IncotermCode IncotermVersion InvoiceDate InvoiceNumber
InvoiceTo InvoiceToContactPerson InvoiceToContactPersonFullName InvoiceToName IsExtraDuty Journal
JournalDescription Modified Modifier ModifierFullName OrderDate OrderedBy OrderedByContactPerson
OrderedByContactPersonFullName OrderedByName OrderNumber PaymentCondition PaymentConditionDescription
PaymentReference Remarks SalesChannel SalesChannelCode SalesChannelDescription SalesInvoiceLines Salesperson
SalespersonFullName SelectionCode SelectionCodeCode SelectionCodeDescription StarterSalesInvoiceStatus
StarterSalesInvoiceStatusDescription Status StatusDescription Type TypeDescription VATAmountDC VATAmountFC
Warehouse WithholdingTaxAmountFC WithholdingTaxBaseAmount WithholdingTaxPercentage YourRef
""")
LINE_FIELDS = _names("""
ID AmountDC AmountFC CostCenter CostCenterDescription CostUnit CostUnitDescription Description Discount
Division Employee EmployeeFullName EndTime GLAccount GLAccountDescription InvoiceID Item ItemCode
ItemDescription LineNumber NetPrice Notes Pricelist PricelistDescription Project ProjectDescription Quantity
StartTime Subscription SubscriptionDescription TaxSchedule TaxScheduleCode TaxScheduleDescription UnitCode
UnitDescription UnitPrice VATAmountDC VATAmountFC VATCode VATCodeDescription VATPercentage
""")
#: the part of crm/Accounts the stand-in serves (Exact's Account has ~150 properties)
ACCOUNT_FIELDS = _names("ID Code Name Email City Postcode Status IsSales Created Modified Division")
ENTITIES = {"SalesInvoice": INVOICE_FIELDS, "SalesInvoiceLine": LINE_FIELDS, "Account": ACCOUNT_FIELDS}
NAVIGATION = {"SalesInvoice": {"SalesInvoiceLines": "SalesInvoiceLine"}}
CONDITION = re.compile(r"^\s*\(?\s*(\w+)\s+(eq|ne|gt|ge|lt|le)\s+(datetime|guid)?'([^']*)'\s*\)?\s*$")


class QueryError(ValueError):
    """A query option Exact would refuse with 400; the text is the service's."""


def no_property(name: str, entity: str, position: int = 0) -> QueryError:
    return QueryError(f"No property '{name}' exists in type '{MODEL}.{entity}' at position {position}.")


def parse_filter(text: str, entity: str) -> list[list[tuple[str, str, Any]]]:
    """``$filter`` as OR-groups of AND-ed conditions (``A and B or C``: [[A, B], [C]])."""
    from sandbox.rest import synthetic

    if not text.strip():
        return []
    groups = []
    for alternative in re.split(r"\s+or\s+", text.strip()):
        group = []
        for part in re.split(r"\s+and\s+", alternative):
            m = CONDITION.match(part)
            if not m:
                raise QueryError(f"Syntax error at position {text.find(part.strip())} in '{text}'.")
            field, op, kind, literal = m.groups()
            if field not in ENTITIES[entity] or field in NAVIGATION.get(entity, {}):
                raise no_property(field, entity, text.find(field))
            if kind == "datetime":
                try:
                    value: Any = synthetic.parse_iso(literal)
                except ValueError as exc:
                    raise QueryError(f"Unrecognized 'Edm.DateTime' literal 'datetime'{literal}''.") from exc
            else:
                value = literal.lower() if kind == "guid" else literal
            group.append((field, op, value))
        groups.append(group)
    return groups


def matches(row: dict[str, Any], groups: list[list[tuple[str, str, Any]]]) -> bool:
    return not groups or any(all(_holds(row, c) for c in group) for group in groups)


def _holds(row: dict[str, Any], condition: tuple[str, str, Any]) -> bool:
    field, op, value = condition
    actual: Any = row.get(field)
    if isinstance(actual, str) and actual.startswith("/Date("):
        actual = int(actual[6:-2]) / 1000
    elif isinstance(actual, str) and isinstance(value, str):
        actual = actual.lower().strip() if field != "Code" else actual.strip()
        value = value.lower().strip() if field != "Code" else value.strip()
    return {"eq": actual == value, "ne": actual != value, "gt": actual > value, "ge": actual >= value,
            "lt": actual < value, "le": actual <= value}[op]


def parse_select(text: str, entity: str, expand: set[str]) -> tuple[list[str], dict[str, list[str]]]:
    """``$select`` as the entity's own fields and, per expanded collection, its fields."""
    own: list[str] = []
    nested: dict[str, list[str]] = {}
    for position, name in _positions(text):
        head, _, tail = name.partition("/")
        navigation = NAVIGATION.get(entity, {})
        if tail:
            if head not in navigation:
                raise no_property(head, entity, position)
            if head not in expand:
                raise QueryError(f"Only properties specified in $expand can be traversed in $select query options. "
                                 f"Selected item: '{name}'.")
            if tail != "*" and tail not in ENTITIES[navigation[head]]:
                raise no_property(tail, navigation[head], position + len(head) + 1)
            nested.setdefault(head, []).append(tail)
        elif name != "*":
            if name not in ENTITIES[entity]:
                raise no_property(name, entity, position)
            own.append(name)
    return own, nested


def parse_expand(text: str, entity: str) -> set[str]:
    names = {n.strip() for n in text.split(",") if n.strip()}
    for name in names:
        if name not in NAVIGATION.get(entity, {}):
            raise no_property(name, entity, text.find(name))
    return names


def project(row: dict[str, Any], own: list[str], nested: dict[str, list[str]], expand: set[str],
            uri: str, entity: str) -> dict[str, Any]:
    """One entity as Exact writes it: ``__metadata``, the selected fields, expanded collections as
    ``{"results": [...]}`` and unexpanded ones as ``{"__deferred": {"uri": ...}}``."""
    out: dict[str, Any] = {"__metadata": {"uri": uri, "type": f"{MODEL}.{entity}"}}
    navigation = NAVIGATION.get(entity, {})
    wanted = own or [f for f in row if f not in navigation]
    out.update({k: row.get(k) for k in wanted if k not in navigation})
    for name, child_entity in navigation.items():
        if name in expand:
            fields = nested.get(name)
            children = row.get(name) or []
            keep = None if not fields or "*" in fields else fields
            out[name] = {"results": [
                {"__metadata": {"type": f"{MODEL}.{child_entity}"}, **({k: c.get(k) for k in keep} if keep else c)}
                for c in children
            ]}
        elif not own or name in own:
            out[name] = {"__deferred": {"uri": f"{uri}/{name}"}}
    return out


def _positions(text: str) -> list[tuple[int, str]]:
    out, position = [], 0
    for part in text.split(","):
        stripped = part.strip()
        if stripped:
            out.append((position + part.find(stripped), stripped))
        position += len(part) + 1
    return out
