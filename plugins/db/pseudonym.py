"""Keyed pseudonyms for replicated columns: a BSN becomes HMAC-SHA256(key, BSN) on the way out.

A replica for a purpose without a legal basis for the BSN (management information, art. 46
UAVG) still needs to tell people apart and to link its own tables over the years: the keyed
hash does that, and without the key no one can go back from it to the BSN (a plain hash of a
9-digit number can be reversed by trying all 10^9 of them). The key is a secret of the source
system (``options.pseudonym_key`` in catalog.yaml, ``${env:}``/``${file:}``), never stored
beside the pseudonyms. The same key gives the same pseudonym in every run; a new key gives new
pseudonyms for everyone (a full reload of the replica).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from runtime import secrets
from runtime.errors import ConfigError
from runtime.plugin import PluginContext

MIN_KEY_BYTES = 32


class Pseudonymiser:
    def __init__(self, key: bytes, columns: Mapping[str, str]) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ConfigError(f"pseudonym_key: at least {MIN_KEY_BYTES} bytes are needed, the key has fewer")
        self._key = key
        self.columns = dict(columns)  # source column → replica column

    @classmethod
    def from_context(cls, ctx: PluginContext, columns: Mapping[str, str]) -> Pseudonymiser:
        options = ctx.system.options if ctx.system is not None else {}
        reference = options.get("pseudonym_key")
        if not reference:
            raise ConfigError(
                f"system {ctx.system_name or 'sis'} ({ctx.environment}): options.pseudonym_key is not set; "
                "a table with `pseudonymise` needs it (a ${env:NAME} or ${file:path} reference)"
            )
        return cls(secrets.resolve(reference, base=ctx.project_root).encode(), columns)

    def pseudonym(self, value: Any) -> str | None:
        if value is None or str(value).strip() == "":
            return None
        return hmac.new(self._key, str(value).strip().encode(), hashlib.sha256).hexdigest()

    def rename(self, columns: list[str]) -> list[str]:
        return [self.columns.get(c, c) for c in columns]

    def rows(self, columns: list[str], rows: list[tuple]) -> list[tuple]:
        """``rows`` with the pseudonymised columns (by their source names in ``columns``) replaced."""
        at = [i for i, c in enumerate(columns) if c in self.columns]
        if not at:
            return rows
        out = []
        for row in rows:
            values = list(row)
            for i in at:
                values[i] = self.pseudonym(values[i])
            out.append(tuple(values))
        return out

    def record(self, data: dict) -> dict:
        for source, target in self.columns.items():
            if source in data:
                data[target] = self.pseudonym(data.pop(source))
        return data
