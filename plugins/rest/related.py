"""Related records fetched alongside a page of source records (Exact: the debtor Account of an
invoice, whose ``Code`` is the student number).

A ``related`` entry names a second collection on the same system, the field of a source record
that points into it (``ref``) and the field of the related record it matches (``match``). Per
batch the distinct values are looked up in chunks: one call per ``chunk`` values, with
``filter_template`` per value joined by ``joiner`` in ``filter_param`` (OData:
``ID eq guid'…' or ID eq guid'…'``), plus ``params`` (``$select=ID,Code``). Each record gets the
related record under ``as`` (null when the system has none: the mapping then says what that
means, e.g. a required student number makes it a dead letter with the field path). A failing
lookup raises like any call of the source, so the batch is read again rather than half-linked.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import Field

from runtime.models.common import Expression, Model
from runtime.plugin import Record

from .lookup import compile_lookup


class Related(Model):
    path: str = Field(description="Collection path below the system's base URL, e.g. /crm/Accounts.")
    ref: Expression = Field(description="JMESPath to the reference in a source record, e.g. InvoiceTo.")
    match: str = Field("ID", description="Field of the related record that the reference matches.")
    as_: str = Field(alias="as", description="Name under which the related record is added to the source record.")
    params: dict[str, str] = Field(default_factory=dict, description="Extra query parameters, e.g. $select.")
    records: Expression = Field("d.results", description="JMESPath to the list of related records in the answer.")
    filter_param: str = "$filter"
    filter_template: str = Field("ID eq guid'{value}'", description="Condition for one value; {value} is filled.")
    joiner: str = " or "
    chunk: int = Field(20, ge=1, le=100, description="Values per call (keep within one page of the API).")


def attach(client: Any, specs: Sequence[Related], records: list[Record]) -> None:
    """Add each spec's related record to every record of the batch, in place."""
    for spec in specs:
        ref = compile_lookup(spec.ref)
        wanted = sorted({_norm(str(v)) for v in (ref(r.data) for r in records) if v not in (None, "")})
        found: dict[str, Any] = {}
        for values in _chunks(wanted, spec.chunk):
            found.update(_fetch(client, spec, values))
        for record in records:
            value = ref(record.data)
            record.data[spec.as_] = found.get(_norm(str(value))) if value not in (None, "") else None


def _fetch(client: Any, spec: Related, values: list[str]) -> dict[str, Any]:
    from . import bodies, errors  # httpx: imported when a run fetches, not when a spec is checked

    query = dict(spec.params)
    query[spec.filter_param] = spec.joiner.join(spec.filter_template.replace("{value}", v) for v in values)
    where = f"GET {spec.path}"
    response = client.send("GET", client.url(spec.path), params=query)
    body = bodies.decode(response, where)
    rows = compile_lookup(spec.records)(body)
    if rows is None:
        rows = []
    if not isinstance(rows, list):
        raise errors.malformed(where, f"'{spec.records}' is not a list of records")
    return {_norm(str(row.get(spec.match))): row for row in rows if isinstance(row, dict)}


def _norm(value: str) -> str:
    return value.strip().lower()  # GUIDs come back in any case


def _chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
