"""Specs of the ``file`` plugin: local files, for drop folders and for tests."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from runtime.models.common import Expression
from runtime.models.interface import SpecBase, TargetSpecBase

from plugins.formats import Format


class FileSource(SpecBase):
    type: Literal["file"]
    directory: str
    pattern: str = "*"
    format: Format
    key: Expression | None = None
    after: Literal["archive", "delete", "keep"] = "archive"


class FileTarget(TargetSpecBase):
    type: Literal["file"]
    directory: str
    filename: str = Field(description="File name; {run}, {date}, {time} and {key} are filled in.")
    format: Format
    per: Literal["run", "record"] = "run"
