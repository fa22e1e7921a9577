"""Writing files into a folder (local or SFTP) so that a reader never sees a half-written file.

``per: record``: each record is written to a hidden temporary name in the same folder and renamed
to its final name at once (rename is atomic, so the other side sees the whole file or nothing).

``per: run``: the engine hands over records batch by batch. They are appended to the hidden file
``.<name>.koppel-part``; after each batch its acknowledged length is written beside it
(``.<name>.koppel-part.json``). ``close()`` appends the format's ending (``]``, ``</root>``) and
renames the file to its final name. A run with no records publishes no file.

When the run fails midway the engine still calls ``close()``: the records already written were
acknowledged (the engine moved its cursor past them), so the file is published with exactly those
records; the failed batch was never acknowledged and is not in it (a write that fails midway is
cut back to the last acknowledged length). After a crash (no ``close()`` at all), ``open()`` of
the next run finds the part file of this interface, cuts it back to the acknowledged length and
publishes it. A reader therefore only ever sees complete files with acknowledged records.

File names: ``{run}`` (the run id, or the start time ``YYYYMMDDTHHMMSS``), ``{date}`` (YYYYMMDD)
and ``{time}`` (HHMMSS) in Europe/Amsterdam time, ``{key}`` (the record's source key, per record
only). Characters other than letters, digits, ``.``, ``_`` and ``-`` in a key become ``_``. A
final name that exists already gets ``-1``, ``-2``, ... before its extension, never overwritten.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import posixpath
import re
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from runtime.errors import ConfigError, RecordError, TransientError
from runtime.plugin import Item, Outcome

from plugins.codecs import writer_for
from plugins.file.storage import Storage, storage_error

log = logging.getLogger("koppel.plugins.publish")
PART = ".koppel-part"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class Publisher:
    def __init__(self, storage: Storage, spec: Any, ctx: Any, directory: str) -> None:
        self.storage = storage
        self.spec = spec
        self.ctx = ctx
        self.directory = directory
        now = dt.datetime.now(ZoneInfo("Europe/Amsterdam"))
        self.fields = {
            "run": str(ctx.options.get("run_id") or now.strftime("%Y%m%dT%H%M%S")),
            "date": now.strftime("%Y%m%d"),
            "time": now.strftime("%H%M%S"),
        }
        if spec.per == "run" and "{key}" in spec.filename:
            raise ConfigError("filename: {key} only makes sense with per: record")
        try:
            spec.filename.format(key="k", **self.fields)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"filename '{spec.filename}': unknown placeholder {exc}") from None
        writer_for(spec.format, project_root=ctx.project_root)  # unwritable format: fail at open
        self.part: str | None = None
        self.final: str | None = None
        self.length = 0
        self.writer = None
        self.count = 0
        self.dirty = False

    # -- lifecycle ----------------------------------------------------------------------------

    def open(self) -> None:
        self.storage.makedirs(self.directory)
        self._recover()

    def close(self) -> None:
        if self.part is None:
            return
        try:
            self.storage.append(self.part, self.writer.end())
            self._publish(self.part, self.final)
            self.storage.remove(self.part + ".json")
        except OSError as exc:
            raise storage_error("publishing", self.final, exc) from exc
        log.info("published %s (%d records)", self.final, self.count)
        self.part = None

    # -- writing -------------------------------------------------------------------------------

    def render(self, item: Item) -> str:
        return writer_for(self.spec.format, project_root=self.ctx.project_root, single=self.spec.per == "record") \
            .document([item.payload]).decode("utf-8", errors="replace")

    def write(self, items: Sequence[Item]) -> list[Outcome]:
        if not items:
            return []
        if self.spec.per == "record":
            return [self._write_one_call(item) for item in items]
        return self._append(items)

    def _write_one_call(self, item: Item) -> Outcome:
        """One file per record is one call: its failure is this record's Outcome, not the batch's."""
        try:
            return self._write_one(item)
        except TransientError as exc:
            return Outcome(error=exc)

    def _write_one(self, item: Item) -> Outcome:
        writer = writer_for(self.spec.format, project_root=self.ctx.project_root, single=True)
        try:
            data = writer.document([_payload(item)])
        except RecordError as exc:
            return Outcome(error=exc)
        name = self.spec.filename.format(key=_UNSAFE.sub("_", item.source_key or item.key), **self.fields)
        temporary = posixpath.join(self.directory, f".{name}{PART}")
        try:
            self.storage.write_file(temporary, data)
            final = self._publish(temporary, posixpath.join(self.directory, name))
        except OSError as exc:
            raise storage_error("writing", name, exc) from exc
        return Outcome(reference=posixpath.basename(final))

    def _append(self, items: Sequence[Item]) -> list[Outcome]:
        if self.part is None:
            self._start()
        outcomes: list[Outcome] = []
        chunks: list[bytes] = []
        for item in items:
            try:
                chunks.append(self.writer.record(_payload(item), first=self.count == 0))
            except RecordError as exc:
                outcomes.append(Outcome(error=exc))
                continue
            self.count += 1
            outcomes.append(Outcome(reference=posixpath.basename(self.final)))
        if not chunks:
            return outcomes
        try:
            if self.dirty:  # an earlier append failed halfway: cut back to what was acknowledged
                self.storage.truncate(self.part, self.length)
                self.dirty = False
            new_length = self.storage.append(self.part, b"".join(chunks))
            self._save_length(new_length)
        except (OSError, TransientError) as exc:
            self._cut_back()
            self.count -= len(chunks)
            if isinstance(exc, TransientError):
                raise
            raise storage_error("writing", self.final, exc) from exc
        self.length = new_length
        return outcomes

    def _start(self) -> None:
        name = self.spec.filename.format(**self.fields)
        self.final = posixpath.join(self.directory, name)
        part = posixpath.join(self.directory, f".{name}{PART}")
        self.writer = writer_for(self.spec.format, project_root=self.ctx.project_root)
        try:
            self.storage.write_file(part, b"")
            self.length = self.storage.append(part, self.writer.begin())
            self.part = part
            self._save_length(self.length)
        except OSError as exc:
            self.part = None
            raise storage_error("writing", name, exc) from exc

    def _save_length(self, length: int) -> None:
        note = {"final": posixpath.basename(self.final), "length": length, "interface": self.ctx.interface_id,
                "end": self.writer.end().decode("utf-8")}
        # written whole then renamed: a crash leaves the old note or the new one, never half of one
        self.storage.write_file(self.part + ".json.tmp", json.dumps(note).encode())
        self.storage.rename(self.part + ".json.tmp", self.part + ".json")

    def _cut_back(self) -> None:
        try:
            self.storage.truncate(self.part, self.length)
        except (OSError, TransientError):
            self.dirty = True  # cut back before the next append; the note holds the length too

    def _publish(self, temporary: str, final: str) -> str:
        final = self._free_name(final)
        self.storage.rename(temporary, final)
        return final

    def _free_name(self, final: str) -> str:
        if not self.storage.exists(final):
            return final
        stem, ext = posixpath.splitext(final)
        n = 1
        while self.storage.exists(f"{stem}-{n}{ext}"):
            n += 1
        return f"{stem}-{n}{ext}"

    def _recover(self) -> None:
        """Publish the part file a crashed run of this interface left, cut to its acknowledged length."""
        for name, _ in self.storage.list_files(self.directory):
            if not name.endswith(PART + ".json"):
                continue
            note_path = posixpath.join(self.directory, name)
            part = note_path[: -len(".json")]
            try:
                note = json.loads(self.storage.read_file(note_path))
            except (OSError, ValueError):
                continue
            if note.get("interface") != self.ctx.interface_id:
                continue  # another interface's file; it recovers its own
            try:
                self.storage.truncate(part, int(note["length"]))
                self.storage.append(part, note.get("end", "").encode("utf-8"))
                final = self._publish(part, posixpath.join(self.directory, note["final"]))
                self.storage.remove(note_path)
            except FileNotFoundError:
                self.storage.remove(note_path)
                continue
            except OSError as exc:
                raise TransientError(f"recovering {note['final']}: {exc.strerror or exc}") from exc
            log.warning("published %s left unpublished by an interrupted run", posixpath.basename(final))


def _payload(item: Item) -> dict:
    payload = item.payload
    if not isinstance(payload, dict):
        raise RecordError("a file record must be an object (a mapping result with fields)", code="shape")
    return payload
