"""Specs of the ``soap`` plugin (zeep), with the Edukoppeling profile for DUO and Kennisnet."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from runtime.models.common import Expression

from runtime.models.interface import SpecBase, TargetSpecBase


class SoapTarget(TargetSpecBase):
    """Call a SOAP operation once per record with the mapped payload as its body."""

    type: Literal["soap"]
    wsdl: str = Field(
        description="WSDL file: a path in the project, or ${specs}/... for the public contracts "
        "in ../shared/specs (KOPPEL_SPECS_DIR)."
    )
    operation: str = Field(description="Operation name as in the WSDL.")
    service: str | None = Field(None, description="Service name when the WSDL has several.")
    port: str | None = None
    reference: Expression | None = Field(None, description="JMESPath to the target's reference in the answer.")
    fixed: dict[str, Any] = Field(
        default_factory=dict,
        description="Fields added to every payload unless the mapping sets them (e.g. ECK-iD chainId, sectorId).",
    )
    #: operations called first, each answer merged into the payload (ECK-iD: retrieveStampseudonym
    #: turns the hPGN into the stampseudonym that retrieveEckId needs)
    before: list[str] = Field(
        default_factory=list,
        description="Operations called before `operation`, in order; each gets the payload fields its "
        "request has, and its answer's fields are added to the payload for the next call.",
    )


class SoapSource(SpecBase):
    """Pull records by calling an operation (SBB leerbedrijven)."""

    type: Literal["soap"]
    wsdl: str
    operation: str
    service: str | None = None
    port: str | None = None
    request: dict[str, Any] = Field(default_factory=dict, description="The request body.")
    records: Expression = Field(description="JMESPath to the list of records in the answer.")
    key: Expression = Field(description="JMESPath to a record's key.")
    #: optional second call per record for details (SBB GeefDetails)
    detail_operation: str | None = None
    detail_request: dict[str, Expression] = Field(
        default_factory=dict, description="Request of the detail call: name → JMESPath into the record."
    )
