"""Where files live: a local folder or (``plugins.sftp.storage``) a remote SFTP folder.

The pick-up and publish logic (``pickup``, ``publish``) is written once against this small
interface, so local drop folders and SFTP behave the same way, crash safety included. Paths are
POSIX strings; every operation here is one filesystem call, and ``rename`` is atomic on both
(POSIX ``rename(2)`` locally, the ``posix-rename@openssh.com`` extension over SFTP).
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from pathlib import Path
from typing import IO, Protocol

from runtime.errors import TransientError


class Storage(Protocol):
    def join(self, *parts: str) -> str: ...

    def makedirs(self, path: str) -> None: ...

    def list_files(self, path: str) -> list[tuple[str, float]]:
        """(name, modification time) of the regular files directly in ``path``."""
        ...

    def exists(self, path: str) -> bool: ...

    def rename(self, source: str, destination: str) -> None:
        """Atomic; replaces ``destination`` if it exists. FileNotFoundError if ``source`` is gone."""
        ...

    def remove(self, path: str) -> None: ...

    def open_read(self, path: str) -> IO[bytes]:
        """A seekable binary stream of the whole file (a local copy for remote storage)."""
        ...

    def append(self, path: str, data: bytes) -> int:
        """Append ``data`` (creating the file); returns the new size."""
        ...

    def truncate(self, path: str, size: int) -> None: ...

    def write_file(self, path: str, data: bytes) -> None:
        """Write a whole (small) file, replacing it; not atomic: callers rename afterwards."""
        ...

    def read_file(self, path: str) -> bytes: ...


class LocalStorage:
    """A folder on this machine. Relative paths are taken from ``root`` (the project root)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _p(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else self.root / p

    def join(self, *parts: str) -> str:
        return posixpath.join(*parts)

    def makedirs(self, path: str) -> None:
        self._p(path).mkdir(parents=True, exist_ok=True)

    def list_files(self, path: str) -> list[tuple[str, float]]:
        try:
            with os.scandir(self._p(path)) as entries:
                return [(e.name, e.stat().st_mtime) for e in entries if e.is_file(follow_symlinks=False)]
        except FileNotFoundError:
            return []

    def exists(self, path: str) -> bool:
        return self._p(path).exists()

    def rename(self, source: str, destination: str) -> None:
        os.replace(self._p(source), self._p(destination))

    def remove(self, path: str) -> None:
        try:
            self._p(path).unlink()
        except FileNotFoundError:
            pass

    def open_read(self, path: str) -> IO[bytes]:
        return open(self._p(path), "rb")

    def append(self, path: str, data: bytes) -> int:
        with open(self._p(path), "ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            return f.tell()

    def truncate(self, path: str, size: int) -> None:
        os.truncate(self._p(path), size)

    def write_file(self, path: str, data: bytes) -> None:
        with open(self._p(path), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def read_file(self, path: str) -> bytes:
        return self._p(path).read_bytes()

    def close(self) -> None:
        pass


def spooled_copy(reader: IO[bytes]) -> IO[bytes]:
    """A seekable local copy of a stream (kept in memory up to 8 MB, then on disk)."""
    copy = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - handed to the caller open
    shutil.copyfileobj(reader, copy, 1024 * 1024)
    copy.seek(0)
    return copy


def storage_error(action: str, path: str, exc: OSError) -> TransientError:
    """An I/O failure as a retryable error that names the file, not its contents."""
    reason = exc.strerror or type(exc).__name__
    return TransientError(f"{action} {path}: {reason}", code="io")
