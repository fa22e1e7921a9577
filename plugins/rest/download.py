"""``RestDownloadTarget``: fetch files from an HTTP API into the SIS's document folder.

A rest target with ``download:`` (instead of ``path`` or ``steps``) GETs each listed file per
record (a download with ``each: <list>`` one file per element of that list in the payload, its
path and name read in the element) and writes it to ``${documents}`` (``KOPPEL_DOCUMENTS_DIR``)
under the name its ``to`` expression gives, through a temporary file and a rename: a reader (interface 19's DMS upload)
never sees half a file, and a repeated delivery (at least once) overwrites the same bytes. The
Outcome's ``response`` is ``{<name>: {file_name, sha256, bytes}}`` for the write-back, which
updates the document row (interface 14: the signed PDF and Signhost's receipt); for a download
with ``each`` it is ``{<name>: [{file_name, sha256, bytes, item: <the element>}, ...]}`` in the
list's order, so the write-back can name each element's row (interface 10: every document of an
Intergrip dossier).

A record's files are all fetched before any is written: one that fails (of N) leaves none of that
record's files written and no answer for the write-back, so nothing half-fetched is listed; the
error names the file (``download <name> 2 of 3: GET /documenten/<id>``), a 4xx is that record's
dead letter, a 5xx or timeout a transient error and the whole record is fetched again. A file
fetched twice has the same name (its ``to``), so a retry or replay overwrites it with itself.

A file name that would leave the folder (``..``, a slash) is that record's error, as is an
answer of another content type. Errors of the calls are those of ``RestClient.send``: 4xx for
the record, 5xx/429/timeouts transient, 401/403 configuration.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from runtime import paths, redact
from runtime.errors import ConfigError, KoppelError, RecordError
from runtime.plugin import Item, Outcome, PluginContext, Target

from . import fields
from .client import OwnsRestClient, RestClient
from .lookup import compile_lookup
from .spec import Download, RestTarget

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
        self._names = [(d, compile_lookup(d.to), compile_lookup(d.each) if d.each else None)
                       for d in spec.download or []]

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

    def _files(self, payload: dict[str, Any]) -> Iterator[tuple[Download, str, dict[str, Any], Any, str]]:
        """(download, label, what its path and name are read in, the element or None, its file name)
        of every file of one record, in order: a plain download once, one with ``each`` per element."""
        for download, name_of, elements_of in self._names:
            if elements_of is None:
                yield download, f"download {download.name}", payload, None, name_of(payload)
                continue
            elements = elements_of(payload)
            if elements is None:
                continue  # nothing listed: nothing to fetch
            if not isinstance(elements, list):
                raise RecordError(f"download {download.name}: '{download.each}' must give a list, not "
                                  f"{type(elements).__name__}", path=download.each, code="each")
            for index, element in enumerate(elements):
                label = f"download {download.name} {index + 1} of {len(elements)}"
                if not isinstance(element, dict):
                    raise RecordError(f"{label}: each element of '{download.each}' must be an object",
                                      path=f"{download.each}[{index}]", code="each")
                view = {**payload, **element}
                yield download, label, view, element, name_of(view)

    def _fetch(self, item: Item) -> Outcome:
        if not isinstance(item.payload, dict):
            raise RecordError("the mapped payload of a download must be an object", code="payload")
        assert self.client is not None
        fetched: list[tuple[Download, str, bytes, Any]] = []
        # every file first, then write: all or nothing per record (a failed one of N writes none)
        for download, label, view, element, file_name in self._files(item.payload):
            if not isinstance(file_name, str) or not _SAFE_NAME.match(file_name) or ".." in file_name:
                raise RecordError(f"{label}: '{download.to}' must give a plain file name", code="file-name")
            if any(name == file_name for _, name, _, _ in fetched):
                raise RecordError(f"{label}: '{download.to}' gives {file_name} for two files of this record",
                                  code="file-name")
            try:
                path = _fill(download.path, view)
            except RecordError as exc:
                raise RecordError(f"{label}: {exc.message}", path=exc.path, code="path") from None
            what = redact.text(f"{label}: GET {path}")  # names the file (the document), never a value it hides
            response = self.client.send("GET", self.client.url(path), headers={"Accept": download.content_type}, what=what)
            kind = response.headers.get("content-type", "").split(";")[0].strip()
            if kind != download.content_type:
                raise RecordError(f"{what}: the answer is {kind or 'untyped'}, not {download.content_type}",
                                  code="content-type")
            fetched.append((download, file_name, response.content, element))
        response_body: dict[str, Any] = {d.name: [] for d, _, _ in self._names if d.each}
        for download, file_name, data, element in fetched:
            _write_atomically(self.folder / file_name, data)
            described = {"file_name": file_name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            if download.each:
                response_body[download.name].append({**described, "item": element})
            else:
                response_body[download.name] = described
        first = fetched[0][1] if fetched else None
        return Outcome(reference=first, response=response_body)

    def render(self, item: Item) -> str:
        payload = item.payload if isinstance(item.payload, dict) else {}
        lines = []
        try:
            files = list(self._files(payload))
        except RecordError as exc:
            return f"download: {exc}"
        for download, _label, view, _element, file_name in files:
            try:
                path = _fill(download.path, view)
            except RecordError as exc:
                path = f"{download.path}  ({exc})"
            lines.append(f"GET {path}  → ${{documents}}/{file_name}")
        return "\n".join(lines) if lines else "(no file to fetch)"


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
