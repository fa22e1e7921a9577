"""Specs of the ``rest`` plugin (httpx)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from runtime.models.common import Expression, Model
from runtime.models.interface import SpecBase, TargetSpecBase

from plugins.formats import Format

from .related import Related


class NextLinkPaging(Model):
    """The body holds the next page's URL, e.g. OData's ``d.__next``."""

    type: Literal["next_link"]
    next: Expression = Field(description="JMESPath to the next URL in the body, e.g. 'd.__next'.")


class LinkHeaderPaging(Model):
    type: Literal["link_header"]


class PagePaging(Model):
    type: Literal["page"]
    param: str = "page"
    size_param: str | None = "pageSize"
    size: int = Field(100, ge=1)
    start: int = 1


class OffsetPaging(Model):
    type: Literal["offset"]
    param: str = "offset"
    limit_param: str = "limit"
    limit: int = Field(100, ge=1)


class CursorPaging(Model):
    type: Literal["cursor"]
    cursor: Expression = Field(description="JMESPath to the next cursor in the body.")
    param: str = "cursor"


Paging = Annotated[
    NextLinkPaging | LinkHeaderPaging | PagePaging | OffsetPaging | CursorPaging,
    Field(discriminator="type"),
]


class Watermark(Model):
    """Incremental reads: only what changed since the cursor."""

    field: Expression = Field(description="JMESPath to the change timestamp in a record, e.g. 'Modified'.")
    param: str = Field(description="Query parameter to send, e.g. '$filter'.")
    template: str = Field(
        "{cursor}", description="Value of the parameter; {cursor} is the last watermark seen."
    )
    initial: str = Field("1970-01-01T00:00:00Z", description="Watermark of the very first run.")


class RestSource(SpecBase):
    """Poll or pull records from an HTTP API."""

    type: Literal["rest"]
    path: str = Field(description="Path below the system's base URL.")
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, str] = Field(default_factory=dict)
    records: Expression | None = Field(None, description="JMESPath to the list of records in a page.")
    key: Expression = Field(description="JMESPath to the record's own key.")
    paging: Paging | None = None
    watermark: Watermark | None = None
    format: Format | None = Field(None, description="For file downloads (CSV, XLSX); default JSON.")
    related: list[Related] = Field(
        default_factory=list, description="Records of another collection added to each record (plugins/rest/related.py)."
    )


class RestStep(Model):
    """One call of a multi-step delivery (Signhost: create, upload the file, start)."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str = Field(description="Path; {name} is filled from the payload and saved values.")
    body: Expression | None = Field(None, description="JMESPath into the payload for the JSON body.")
    file: Expression | None = Field(None, description="JMESPath to a file path whose bytes are the body.")
    content_type: str | None = None
    save: dict[str, Expression] = Field(default_factory=dict, description="name: JMESPath into the response.")


class Attachment(Model):
    """A file embedded in the JSON body as Base64, e.g. Therefore's ``Streams``.

    The mapping names the file (``path``, relative to the project root); at send time the file
    is read and ``{name_key: <file name>, data_key: <Base64>}`` is appended to the list at
    ``field`` in the body, and the path itself is left out of what is sent.
    """

    field: str = Field(description="Body field that holds the list of files, e.g. 'Streams'.")
    path: Expression = Field(description="JMESPath to the file's path in the payload, e.g. 'file_path'.")
    name_key: str = "FileName"
    data_key: str = "FileDataBase64JSON"
    required: bool = Field(False, description="A record without a file is an error (else sent without).")


class Download(Model):
    """One file fetched from the API and stored in the SIS's document folder (Signhost's signed
    PDF and receipt), or with ``each`` one file per element of a list in the payload (Intergrip's
    documents of a dossier, however many). Written under a temporary name and renamed, so a reader
    never sees half a file."""

    each: Expression | None = Field(
        None, description="JMESPath to a list in the payload: one file per element. path and to are then "
        "read in the element (over the payload's own fields); the write-back sees "
        "{<name>: [{file_name, sha256, bytes, item: <the element>}, ...]} in the list's order.",
    )
    path: str = Field(description="Path; {name} is filled from the payload (with each: the element), "
                      "e.g. /transaction/{sign_transaction_id}/file/{file_id}.")
    to: Expression = Field(description="JMESPath to the file name to write in ${documents} (KOPPEL_DOCUMENTS_DIR); "
                           "with each: in the element.")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Key of this file in the answer given to the write-back.")
    content_type: str = Field("application/pdf", description="What the answer must be; anything else is refused.")


class RestTarget(TargetSpecBase):
    """Push records to an HTTP API."""

    type: Literal["rest"]
    method: Literal["POST", "PUT", "PATCH", "DELETE"] = "POST"
    path: str | None = Field(None, description="Path; {field} is filled from the payload.")
    steps: list[RestStep] | None = Field(None, description="Instead of method and path: several calls.")
    system_fields: dict[str, str] = Field(
        default_factory=dict,
        description="Payload fields (dotted paths) taken from the system's `options` for the environment: "
        "path → option name, e.g. {transaction.PostbackUrl: postback_url}. The mapping's own value wins.",
    )
    download: list[Download] | None = Field(
        None,
        description="Instead of method and path: GET each file and store it in the SIS's document folder; "
        "the write-back sees {<name>: {file_name, sha256, bytes}} per file (a list of them for a download with each).",
    )
    body: Literal["json", "xml", "form"] = "json"
    batch: int | None = Field(None, ge=1, description="Send up to this many records as one JSON array.")
    openapi: str | None = Field(None, description="OpenAPI document to check requests against.")
    operation: str | None = Field(None, description="operationId in that document.")
    schema_ref: str | None = Field(None, description="Schema name in the document for the body.")
    reference: Expression | None = Field(None, description="JMESPath to the target's id in the response.")
    attach: Attachment | None = Field(None, description="Embed a file named by the payload as Base64.")
    idempotency_header: str | None = Field(
        "Idempotency-Key", description="Header carrying the idempotency key; none to leave it out."
    )
