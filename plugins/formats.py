"""File formats shared by the sftp, file and rest plugins: how records become bytes and back.

Only the models live here (cheap to import); the readers and writers are in ``plugins.codecs``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from runtime.models.common import Expression, Model


class CsvFormat(Model):
    type: Literal["csv"]
    delimiter: str = Field(";", min_length=1, max_length=1, description="Dutch systems mostly use ';'.")
    encoding: str = Field("utf-8", description="e.g. utf-8, utf-8-sig or cp1252.")
    header: bool = True
    quotechar: str = Field('"', min_length=1, max_length=1)
    #: column names when the file has no header line
    columns: list[str] | None = None


class JsonFormat(Model):
    type: Literal["json"]
    #: JMESPath to the list of records inside the document; none means the document is the list
    records: Expression | None = None
    encoding: str = "utf-8"


class JsonLinesFormat(Model):
    type: Literal["jsonl"]
    encoding: str = "utf-8"


class XmlFormat(Model):
    type: Literal["xml"]
    record: str = Field(description="Element name of one record, e.g. 'assessmentResult'.")
    root: str | None = Field(None, description="Root element when writing.")
    xsd: str | None = Field(None, description="XSD to check documents against (${specs}/... allowed).")
    namespaces: dict[str, str] = Field(default_factory=dict)
    max_bytes: int = Field(50_000_000, gt=0, description="Larger documents are refused.")


class XlsxFormat(Model):
    type: Literal["xlsx"]
    sheet: str | None = Field(None, description="Sheet name; default: the first.")
    header_row: int = Field(1, ge=1)


Format = Annotated[
    CsvFormat | JsonFormat | JsonLinesFormat | XmlFormat | XlsxFormat,
    Field(discriminator="type"),
]
