"""Picking files up from a folder (local or SFTP) so that a file is never lost nor read twice.

The protocol, the same for the ``file`` and ``sftp`` sources::

    <directory>/x.csv  ──claim (atomic rename)──>  <directory>/processing/x.csv
                                                     │ records read, batch by batch;
                                                     │ cursor = {"file": "x.csv", "offset": N}
                                                     ▼ commit() of the file's last batch
                        <archive_directory>/x.csv   (after: archive; a name already there gets
                                                     a time stamp suffix) or deleted (after: delete)
                        <directory>/rejected/x.csv  + x.csv.reason.txt when the file cannot be read
                                                     as its format (bad XML, fails the XSD, ...)

- Claiming by rename means two daemons never read the same file: only one rename succeeds.
- A crash leaves the file in ``processing/``. The next ``read`` resumes the files found there
  first; the file named in the cursor is resumed after its last committed record (``offset``),
  and one whose last batch was committed but not yet archived (``done``) is archived at once.
  The engine stores the cursor before it calls ``commit``, so a record is never skipped; a record
  that was delivered but whose batch was not yet committed is read again and has the same key
  (file name and row), so the delivery ledger or the target drops the repeat.
- ``after: keep`` (file source only) leaves files where they are; the cursor then remembers the
  modification time and name of the last file finished, and only newer files are read.
- Record keys: the ``key`` expression when given, else ``<file name>#<row>`` (row from 1).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import logging
import posixpath
from collections.abc import Iterator
from typing import Any

from runtime import redact
from runtime.plugin import Batch, Record

from plugins.codecs import FileFormatError, read_records
from plugins.file.storage import Storage, storage_error

log = logging.getLogger("koppel.plugins.pickup")

PROCESSING = "processing"
REJECTED = "rejected"


class Pickup:
    def __init__(self, storage: Storage, spec: Any, ctx: Any, directory: str, archive_directory: str | None) -> None:
        self.storage = storage
        self.spec = spec
        self.ctx = ctx
        self.directory = directory
        self.processing = posixpath.join(directory, PROCESSING)
        self.rejected = posixpath.join(directory, REJECTED)
        self.archive = archive_directory or posixpath.join(directory, "archive")
        self.batch_size = max(1, int(ctx.options.get("batch_size") or 500))
        self._key = None
        if getattr(spec, "key", None):
            import jmespath

            self._key = jmespath.compile(spec.key)

    # -- reading -------------------------------------------------------------------------------

    def prepare(self) -> None:
        for folder in (self.directory, self.processing):
            self.storage.makedirs(folder)

    def read(self, cursor: str | None) -> Iterator[Batch]:
        state = json.loads(cursor) if cursor else {}
        if self.spec.after == "keep":
            yield from self._read_in_place(state)
            return
        for name, _ in sorted(self._list(self.processing)):
            if state.get("file") == name and state.get("done"):
                self.finish(name, "done")  # committed before the crash, not yet archived
                continue
            offset = state.get("offset", 0) if state.get("file") == name else 0
            log.info("resuming %s left in %s", name, self.processing)
            yield from self._read_file(name, posixpath.join(self.processing, name), offset, {})
        for name in self._waiting():
            if self.storage.exists(posixpath.join(self.processing, name)):
                continue  # a file of that name is still being processed: claim this one next run
            try:
                self.storage.rename(posixpath.join(self.directory, name), posixpath.join(self.processing, name))
            except FileNotFoundError:
                continue  # claimed by another daemon, or withdrawn
            yield from self._read_file(name, posixpath.join(self.processing, name), 0, {})

    def _list(self, folder: str) -> list[tuple[str, float]]:
        """The folder's files; a folder that cannot be listed (a share that dropped) is transient."""
        try:
            return self.storage.list_files(folder)
        except OSError as exc:  # not there as a folder (ENOTDIR, EIO, a stale mount); absent is [] already
            raise storage_error("listing", folder, exc) from exc

    def _waiting(self) -> list[str]:
        return sorted(n for n, _ in self._list(self.directory) if fnmatch.fnmatchcase(n, self.spec.pattern))

    def _read_in_place(self, state: dict) -> Iterator[Batch]:
        mark = tuple(state.get("mark") or (0.0, ""))
        files = sorted((m, n) for n, m in self._list(self.directory)
                       if fnmatch.fnmatchcase(n, self.spec.pattern))
        for mtime, name in files:
            if (mtime, name) <= mark and not (state.get("file") == name and not state.get("done")):
                continue
            offset = state.get("offset", 0) if state.get("file") == name and not state.get("done") else 0
            yield from self._read_file(name, posixpath.join(self.directory, name), offset, {"mark": [mtime, name]})

    def _read_file(self, name: str, path: str, offset: int, extra: dict) -> Iterator[Batch]:
        def cursor(position: int, done: bool) -> str:
            return json.dumps({"file": name, "offset": position, "done": done, **extra})

        records: list[Record] = []
        position = offset
        try:
            with self.storage.open_read(path) as stream:
                for row, data in enumerate(read_records(self.spec.format, stream, project_root=self.ctx.project_root), 1):
                    if row <= offset:
                        continue
                    if len(records) == self.batch_size:
                        yield Batch(records, cursor(position, False), token=(name, None))
                        records = []
                    records.append(self._record(name, row, data))
                    position = row
        except FileFormatError as exc:
            log.error("file %s rejected: %s", name, redact.text(str(exc)))
            yield Batch(records, cursor(position, True), token=(name, "reject", redact.text(str(exc))))
            return
        except FileNotFoundError:
            return  # gone since it was listed: another daemon finished it
        except OSError as exc:
            raise storage_error("reading", path, exc) from exc
        yield Batch(records, cursor(position, True), token=(name, "done"))

    def _record(self, name: str, row: int, data: dict) -> Record:
        key = None
        if self._key is not None:
            value = self._key.search(data)
            key = None if value is None else str(value)
        return Record(key=key or f"{name}#{row}", data=data, object=getattr(self.spec, "object", None),
                      meta={"file": name, "row": row})

    # -- after the batch -----------------------------------------------------------------------

    def commit(self, batch: Batch) -> None:
        token = batch.token
        if not token or token[1] is None:
            return
        self.finish(token[0], token[1], *token[2:])

    def finish(self, name: str, action: str, reason: str | None = None) -> None:
        """Archive, delete or reject a file in processing/. Idempotent: a file already gone is fine."""
        if self.spec.after == "keep":
            return
        source = posixpath.join(self.processing, name)
        if not self.storage.exists(source):
            return
        try:
            if action == "reject":
                self.storage.makedirs(self.rejected)
                self.storage.write_file(posixpath.join(self.rejected, name + ".reason.txt"), (reason or "").encode())
                self.storage.rename(source, self._free_name(self.rejected, name))
            elif self.spec.after == "delete":
                self.storage.remove(source)
            else:
                self.storage.makedirs(self.archive)
                self.storage.rename(source, self._free_name(self.archive, name))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise storage_error("archiving", source, exc) from exc

    def _free_name(self, folder: str, name: str) -> str:
        path = posixpath.join(folder, name)
        if not self.storage.exists(path):
            return path
        stem, dot, ext = name.partition(".")
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        return posixpath.join(folder, f"{stem}.{stamp}{dot}{ext}")
