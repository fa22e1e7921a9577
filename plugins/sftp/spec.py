"""Specs of the ``sftp`` plugin (paramiko)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from runtime.models.common import Expression
from runtime.models.interface import SpecBase, TargetSpecBase

from plugins.formats import Format


class SftpSource(SpecBase):
    """Download files matching a glob, then archive or delete them once processed."""

    type: Literal["sftp"]
    directory: str = Field(description="Remote directory to pick up from.")
    pattern: str = Field("*", description="Glob of the files to pick up, e.g. '*.xml'.")
    format: Format
    key: Expression | None = Field(None, description="JMESPath to a record's key; default file name and row.")
    after: Literal["archive", "delete"] = Field("archive", description="What happens to a processed file.")
    archive_directory: str | None = Field(None, description="Default: <directory>/archive.")


class SftpTarget(TargetSpecBase):
    """Upload records as one file per run (or per record), written atomically."""

    type: Literal["sftp"]
    directory: str
    filename: str = Field(description="File name; {run}, {date}, {time} and {key} are filled in.")
    format: Format
    per: Literal["run", "record"] = "run"
