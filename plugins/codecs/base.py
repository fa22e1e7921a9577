"""What every codec shares: the error for an unreadable file, the writer protocol, cell text."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from runtime.errors import RecordError


class FileFormatError(RecordError):
    """The whole file cannot be read as its declared format (bad XML, fails the XSD, not UTF-8)."""


class Writer:
    """Builds one file: ``begin() + record(r1) + record(r2) + ... + end()``.

    ``separator`` goes between records (``,`` in a JSON array); ``record(data, first=...)`` adds it.
    """

    def begin(self) -> bytes:
        return b""

    def record(self, data: dict, *, first: bool) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def end(self) -> bytes:
        return b""

    def document(self, records: list[dict]) -> bytes:
        """A whole file in one go (tests, per-record files)."""
        parts = [self.begin()]
        parts += [self.record(r, first=i == 0) for i, r in enumerate(records)]
        return b"".join(parts) + self.end()


def text_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    return str(value)


