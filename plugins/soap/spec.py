"""Specs of the ``soap`` plugin (zeep), with the Edukoppeling profile for DUO and Kennisnet."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from runtime.models.common import Duration, Expression, Model
from runtime.models.interface import SpecBase, TargetSpecBase


class BatchStage(Model):
    """One submit of an index/value batch (Kennisnet: submitStampseudonymBatch, submitEckIdBatch)."""

    submit: str = Field(description="Operation that takes the list and answers a batchIdentifier.")
    list: str = Field(description="The request's list element, e.g. hpgnList.")
    entry: str = Field(description="The value field of each list entry, next to its index, e.g. hPgn.")
    input: str = Field(description="The payload field whose value goes into the list, e.g. hpgn.")
    output: str = Field(description="The payload field the batch's answer value is stored under, e.g. stampseudonym.")


class SoapBatch(Model):
    """Send a batch of records in one call per stage and fetch the results with ``retrieve``
    (Kennisnet's batch protocol: submit → batchIdentifier → retrieveBatch → success/failed by index)."""

    stages: list[BatchStage] = Field(min_length=1, description="In order; each stage's output is the next one's input.")
    retrieve: str = Field("retrieveBatch", description="Operation that answers a batch's success[] and failed[].")
    poll_interval: Duration = Field(1.0, description="Wait between retrieve calls while the batch is being processed.")
    max_wait: Duration = Field(600.0, description="Give up on a batch after this long (transient: sent again later).")


def system_fields_field() -> Any:
    """One mechanism, on targets and sources, for what a request takes from the catalog per
    environment (``plugins/soap/systemfields.py``)."""
    return Field(
        default_factory=dict,
        description="Request fields taken from the system's `options` in catalog.yaml for the environment: "
        "(dotted) field → option name, e.g. `request.Licentie: licentie` (SBB's licence in every call), "
        "`chainId: chain_id` (ECK-iD per environment). The catalog's value wins over the payload's; secret "
        "references are resolved and masked; a missing option stops the run and `koppel validate` reports it.",
    )


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
    system_fields: dict[str, str] = system_fields_field()
    batch: SoapBatch | None = Field(
        None,
        description="Deliver a whole batch through the service's batch operations instead of one call per "
        "record (`before`/`operation` are then not called).",
    )
    #: operations called first, each answer merged into the payload (ECK-iD: retrieveStampseudonym
    #: turns the hPGN into the stampseudonym that retrieveEckId needs)
    before: list[str] = Field(
        default_factory=list,
        description="Operations called before `operation`, in order; each gets the payload fields its "
        "request has, and its answer's fields are added to the payload for the next call.",
    )


class SinceCursor(Model):
    """Ask only for what came after the last record read (a sequence number or a timestamp)."""

    param: str = Field(description="Request field set to the cursor, e.g. VanafVolgnummer (found in any wrapper).")
    field: Expression = Field(description="JMESPath to the record's value that becomes the cursor, e.g. Volgnummer.")
    initial: str = Field("0", description="Cursor of the very first run.")
    numeric: bool = Field(True, description="Compare values as numbers (sequence numbers) rather than as text.")


class SoapSource(SpecBase):
    """Pull records by calling an operation (SBB leerbedrijven)."""

    type: Literal["soap"]
    wsdl: str
    operation: str
    service: str | None = None
    port: str | None = None
    request: dict[str, Any] = Field(default_factory=dict, description="The request body.")
    system_fields: dict[str, str] = system_fields_field()
    records: Expression = Field(description="JMESPath to the list of records in the answer.")
    key: Expression = Field(description="JMESPath to a record's key.")
    since: SinceCursor | None = Field(
        None, description="Incremental pulls: the request field that carries the cursor and the record field it "
        "comes from (SBB's mutatieservice: VanafVolgnummer from Volgnummer)."
    )
    #: optional second call per record for details (SBB GeefDetails)
    detail_operation: str | None = None
    detail_request: dict[str, Expression] = Field(
        default_factory=dict, description="Request of the detail call: name → JMESPath into the record."
    )
