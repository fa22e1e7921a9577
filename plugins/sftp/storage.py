"""``SftpStorage``: the ``plugins.file.storage.Storage`` interface over an SFTP session.

Remote paths in specs are relative to the system's ``options.base_dir`` when it is set (the
folder the partner gave us), else to the login's start folder. Renames use OpenSSH's
``posix-rename@openssh.com`` extension, which replaces the destination atomically.
"""

from __future__ import annotations

import functools
import posixpath
import stat
from typing import IO, Any

from runtime.errors import TransientError

from plugins.file.storage import spooled_copy


def _session_errors(method):
    """A dropped SSH session while working on a file is transient; file errors stay OSErrors."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        import paramiko

        try:
            return method(self, *args, **kwargs)
        except (paramiko.SSHException, EOFError) as exc:
            raise TransientError(f"SFTP session lost ({type(exc).__name__})", code="session") from None
        except OSError as exc:
            if exc.errno is None:  # "Socket is closed" and the like: the session, not the file
                raise TransientError(f"SFTP session lost ({exc})", code="session") from None
            raise

    return wrapper


class SftpStorage:
    def __init__(self, sftp: Any, base_dir: str | None = None) -> None:
        self.sftp = sftp
        self.base_dir = base_dir

    def resolve(self, path: str) -> str:
        if path.startswith("/") or not self.base_dir:
            return path
        return posixpath.normpath(posixpath.join(self.base_dir, path))

    def join(self, *parts: str) -> str:
        return posixpath.join(*parts)

    @_session_errors
    def makedirs(self, path: str) -> None:
        target = self.resolve(path)
        current = "/" if target.startswith("/") else ""
        for part in [p for p in target.split("/") if p]:
            current = posixpath.join(current, part) if current else part
            try:
                self.sftp.stat(current)
            except FileNotFoundError:
                try:
                    self.sftp.mkdir(current)
                except OSError:
                    self.sftp.stat(current)  # made by someone else meanwhile: fine; else raise

    @_session_errors
    def list_files(self, path: str) -> list[tuple[str, float]]:
        try:
            entries = self.sftp.listdir_attr(self.resolve(path))
        except FileNotFoundError:
            return []
        return [(e.filename, float(e.st_mtime or 0)) for e in entries if e.st_mode and stat.S_ISREG(e.st_mode)]

    @_session_errors
    def exists(self, path: str) -> bool:
        try:
            self.sftp.stat(self.resolve(path))
            return True
        except FileNotFoundError:
            return False

    @_session_errors
    def rename(self, source: str, destination: str) -> None:
        self.sftp.posix_rename(self.resolve(source), self.resolve(destination))

    @_session_errors
    def remove(self, path: str) -> None:
        try:
            self.sftp.remove(self.resolve(path))
        except FileNotFoundError:
            pass

    @_session_errors
    def open_read(self, path: str) -> IO[bytes]:
        with self.sftp.open(self.resolve(path), "rb") as remote:
            remote.prefetch()
            return spooled_copy(remote)

    @_session_errors
    def append(self, path: str, data: bytes) -> int:
        remote_path = self.resolve(path)
        # 'r+' and an explicit seek: not every server honours the SFTP append flag
        with self.sftp.open(remote_path, "r+b") as remote:
            size = remote.stat().st_size or 0
            remote.seek(size)
            remote.write(data)
            remote.flush()
        return size + len(data)

    @_session_errors
    def truncate(self, path: str, size: int) -> None:
        self.sftp.truncate(self.resolve(path), size)

    @_session_errors
    def write_file(self, path: str, data: bytes) -> None:
        with self.sftp.open(self.resolve(path), "wb") as remote:
            remote.set_pipelined(True)
            remote.write(data)

    @_session_errors
    def read_file(self, path: str) -> bytes:
        with self.sftp.open(self.resolve(path), "rb") as remote:
            return remote.read()

