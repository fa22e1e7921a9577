"""Specs of the ``db`` plugin: replication between databases (SIS store → data layer)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from runtime.models.common import Model
from runtime.models.interface import SpecBase, TargetSpecBase


class Table(Model):
    name: str = Field(description="Source table, or the name given to `query`.")
    query: str | None = Field(None, description="SELECT to replicate instead of the whole table.")
    columns: list[str] | None = Field(
        None, min_length=1,
        description="Only these columns of the table (data minimisation); default every column. "
        "Must include the key and the watermark.",
    )
    pseudonymise: dict[str, str] = Field(
        default_factory=dict,
        description="Columns replaced by a keyed pseudonym (HMAC-SHA256 with the source system's "
        "options.pseudonym_key): source column → replica column, e.g. {bsn: pseudonym}.",
    )
    key: list[str] = Field(min_length=1, description="Primary key columns at the target.")
    watermark: str | None = Field("updated_at", description="Column for incremental reads; none: full.")


class DbSource(SpecBase):
    type: Literal["db"]
    tables: list[Table] = Field(min_length=1)
    mode: Literal["incremental", "full", "outbox"] = "incremental"


class DbTarget(TargetSpecBase):
    type: Literal["db"]
    schema_: str | None = Field(None, alias="schema", description="Target schema, e.g. datalaag or mip.")
    table_prefix: str = ""
    table: str | None = Field(
        None, description="Target table for records that do not name one (from a non-db source)."
    )
    keys: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Key columns per target table (without prefix). Default: the existing table's "
        "primary key, else the SIS object's natural key.",
    )
    on_incompatible_change: Literal["fail", "recreate", "add_column"] = Field(
        "fail",
        description="When a column changes type at the source: stop (fail), drop and copy again "
        "(recreate), or keep the old column and add a new one (add_column).",
    )
    views: dict[str, str] = Field(
        default_factory=dict, description="Views to create at the target: name → SELECT."
    )
