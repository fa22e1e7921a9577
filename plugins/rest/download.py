"""``RestDownloadTarget``: fetch files from an HTTP API into the SIS's document folder.

A rest target with ``download:`` (instead of ``path`` or ``steps``) GETs each listed file per
record and writes it to ``${documents}`` (``KOPPEL_DOCUMENTS_DIR``) under the name its ``to``
expression gives, through a temporary file and a rename: a reader (interface 19's DMS upload)
never sees half a file, and a repeated delivery (at least once) overwrites the same bytes. The
Outcome's ``response`` is ``{<name>: {file_name, sha256, bytes}}`` for the write-back, which
updates the document row (interface 14: the signed PDF and Signhost's receipt).

A file name that would leave the folder (``..``, a slash) is that record's error, as is an
answer of another content type. Errors of the calls are those of ``RestClient.send``: 4xx for
the record, 5xx/429/timeouts transient, 401/403 configuration.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from runtime import paths
from runtime.errors import ConfigError, KoppelError, RecordError
from runtime.plugin import Item, Outcome, PluginContext, Target

from . import fields
from .client import OwnsRestClient, RestClient
from .lookup import compile_lookup
from .spec import RestTarget

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def create_target(spec: RestTarget, ctx: PluginContext) -> Target:
    """The rest plugin's target factory: downloads here, every other shape in ``target.py``;
    either with the spec's ``system_fields`` filled in first (fields.py)."""
    if spec.download:
        target: Target = RestDownloadTarget(spec, ctx)
    else:
        from .target import RestApiTarget

        target = RestApiTarget(spec, ctx)
    return WithSystemFields(target, spec, ctx) if spec.system_fields else target


class WithSystemFields(Target):
    """A rest target whose payloads get the environment's ``system_fields`` before they are sent
    (and shown by dry-run); everything else is the wrapped target's."""

    def __init__(self, inner: Target, spec: RestTarget, ctx: PluginContext) -> None:
        self.inner, self.spec, self.ctx = inner, spec, ctx
        self._values: dict[str, Any] | None = None

    def values(self) -> dict[str, Any]:
        if self._values is None:
            self._values = fields.values(self.spec.system_fields, self.ctx)
        return self._values

    def open(self) -> None:
        self.inner.open()

    def close(self) -> None:
        self.inner.close()

    def write(self, items: Sequence[Item]) -> list[Outcome]:
        return self.inner.write(fields.apply(items, self.values()))

    def render(self, item: Item) -> str:
        return self.inner.render(fields.apply([item], self.values())[0])

    def __getattr__(self, name: str) -> Any:  # what else the engine asks of the target (bulk, flush)
        return getattr(self.inner, name)


class RestDownloadTarget(OwnsRestClient, Target):
    def __init__(self, spec: RestTarget, ctx: PluginContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.client: RestClient | None = None
        self.folder = paths.documents_dir(ctx.project_root)
        self._names = [(d, compile_lookup(d.to)) for d in spec.download or []]

    def write(self, items: Sequence[Item]) -> list[Outcome]:
        self.open()
        outcomes = []
        for item in items:
            try:
                outcomes.append(self._fetch(item))
            except RecordError as exc:
                outcomes.append(Outcome(error=exc))
            except ConfigError:
                raise
            except KoppelError as exc:  # transient: this item is retried on its own clock
                outcomes.append(Outcome(error=exc))
        return outcomes

    def _fetch(self, item: Item) -> Outcome:
        if not isinstance(item.payload, dict):
            raise RecordError("the mapped payload of a download must be an object", code="payload")
        assert self.client is not None
        fetched: list[tuple[Any, str, bytes]] = []
        for download, name_of in self._names:  # every file first, then write: all or nothing per record
            file_name = name_of(item.payload)
            if not isinstance(file_name, str) or not _SAFE_NAME.match(file_name) or ".." in file_name:
                raise RecordError(f"download {download.name}: '{download.to}' must give a plain file name", code="file-name")
            url = self.client.url(_fill(download.path, item.payload))
            response = self.client.send("GET", url, headers={"Accept": download.content_type})
            kind = response.headers.get("content-type", "").split(";")[0].strip()
            if kind != download.content_type:
                raise RecordError(f"download {download.name}: the answer is {kind or 'untyped'}, not {download.content_type}",
                                  code="content-type")
            fetched.append((download, file_name, response.content))
        response_body: dict[str, Any] = {}
        for download, file_name, data in fetched:
            _write_atomically(self.folder / file_name, data)
            response_body[download.name] = {"file_name": file_name, "sha256": hashlib.sha256(data).hexdigest(),
                                            "bytes": len(data)}
        first = fetched[0][1] if fetched else None
        return Outcome(reference=first, response=response_body)

    def render(self, item: Item) -> str:
        lines = []
        for download, name_of in self._names:
            payload = item.payload if isinstance(item.payload, dict) else {}
            try:
                path = _fill(download.path, payload)
            except RecordError as exc:
                path = f"{download.path}  ({exc})"
            lines.append(f"GET {path}  → ${{documents}}/{name_of(payload)}")
        return "\n".join(lines)


def _fill(template: str, payload: dict[str, Any]) -> str:
    def fill(match: re.Match) -> str:
        value = compile_lookup(match.group(1))(payload)
        if value in (None, ""):
            raise RecordError(f"the path {template} needs '{match.group(1)}', which the record does not have",
                              path=match.group(1))
        return quote(str(value), safe="")

    return _PLACEHOLDER.sub(fill, template)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.part")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
