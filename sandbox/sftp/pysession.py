"""One session of the paramiko SFTP stand-in (``sandbox.sftp.pyserver``): who may log in, and
which files an SFTP session may touch.

``Jail`` is the whole of the confinement. A path from the client is made absolute against the
session root and normalised (so ``..`` is resolved lexically first); then ``os.path.realpath``
says what it names on disk, through every symlink, and that must be one of the systems' folders
or lie inside one. A symlink that leads out, a ``..`` that climbs out, an absolute path elsewhere:
all "permission denied". The folders on the way to the systems' folders (``var``,
``var/sandbox``, ...) may be stat'ed and listed, showing only the way on, so that a client's
``makedirs`` of its ``base_dir`` works as it does against the sshd. Symlinks cannot be made or
read over this server.

The operations are those the sftp plugin uses (``plugins/sftp/storage.py``): list, stat, open
for reading and writing (``r+``, ``w``, append), truncate (setstat size), rename (fails when the
destination exists, as SFTP v3 says), ``posix-rename@openssh.com`` (replaces the destination
atomically), remove, mkdir, rmdir.
"""

from __future__ import annotations

import functools
import os
import posixpath
from pathlib import Path

import paramiko
from paramiko import SFTP_FAILURE, SFTP_OK, SFTP_OP_UNSUPPORTED, SFTP_PERMISSION_DENIED, SFTPAttributes, SFTPServer


class Login(paramiko.ServerInterface):
    """The sandbox client key, for the one user name; a session for the ``sftp`` subsystem only."""

    def __init__(self, username: str, client_key: list[str]) -> None:
        self.username = username
        self.key_type, self.key_base64 = client_key

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_none(self, username: str) -> int:
        return paramiko.AUTH_FAILED

    def check_auth_password(self, username: str, password: str) -> int:
        return paramiko.AUTH_FAILED

    def check_auth_interactive(self, username: str, submethods: str) -> int:
        return paramiko.AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        # paramiko verifies the signature before it acts on AUTH_SUCCESSFUL for a signed request
        if username == self.username and key.get_name() == self.key_type and key.get_base64() == self.key_base64:
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_subsystem_request(self, channel, name: str) -> bool:
        return name == "sftp" and super().check_channel_subsystem_request(channel, name)


class Denied(Exception):
    """The path lies outside the systems' folders."""


class Jail:
    def __init__(self, start_dir: Path, folders: list[Path]) -> None:
        self.root = str(start_dir)
        self.folders = [os.path.realpath(f) for f in folders]
        # the folders on the way to each system folder, by the path a client uses and by the real one
        self.ways: set[str] = set()
        for folder in {*map(str, folders), *self.folders}:
            self.ways.update(str(p) for p in Path(folder).parents)

    def absolute(self, path: str) -> str:
        return posixpath.normpath(posixpath.join(self.root, path or "."))

    def inside(self, path: str) -> str:
        """The absolute path, when what it names on disk is within a system folder."""
        absolute = self.absolute(path)
        real = os.path.realpath(absolute)
        if any(real == f or real.startswith(f + "/") for f in self.folders):
            return absolute
        raise Denied(path)

    def is_folder(self, absolute: str) -> bool:
        return os.path.realpath(absolute) in self.folders

    def on_the_way(self, path: str) -> str | None:
        absolute = self.absolute(path)
        return absolute if absolute in self.ways else None

    def way_on(self, absolute: str) -> list[str]:
        """What a folder on the way shows: only its children that lead to a system folder."""
        shown = {*self.ways, *self.folders}
        prefix = absolute.rstrip("/") + "/"
        return sorted({p[len(prefix):].split("/")[0] for p in shown if p.startswith(prefix)})


def _guarded(method):
    """Denied → permission denied; an OSError → its SFTP status; never an exception to paramiko."""

    @functools.wraps(method)
    def wrapper(self, *args):
        try:
            return method(self, *args)
        except Denied:
            return SFTP_PERMISSION_DENIED
        except OSError as exc:
            return SFTPServer.convert_errno(exc.errno) if exc.errno else SFTP_FAILURE

    return wrapper


class ConfinedHandle(paramiko.SFTPHandle):
    def stat(self):
        try:
            return SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))
        except OSError as exc:
            return SFTPServer.convert_errno(exc.errno)

    def chattr(self, attr):
        try:
            attr._flags &= ~attr.FLAG_UIDGID  # owners are not the client's to change
            SFTPServer.set_file_attr(self.filename, attr)
            return SFTP_OK
        except OSError as exc:
            return SFTPServer.convert_errno(exc.errno)


class ConfinedSftp(paramiko.SFTPServerInterface):
    def __init__(self, server, jail: Jail, *args, **kwargs) -> None:
        super().__init__(server, *args, **kwargs)
        self.jail = jail

    def canonicalize(self, path: str) -> str:
        return self.jail.absolute(path)

    @_guarded
    def list_folder(self, path: str):
        way = self.jail.on_the_way(path)
        folder = way or self.jail.inside(path)
        names = self.jail.way_on(way) if way else os.listdir(folder)
        listing = []
        for name in names:
            attr = SFTPAttributes.from_stat(os.lstat(os.path.join(folder, name)))
            attr.filename = name
            listing.append(attr)
        return listing

    @_guarded
    def stat(self, path: str):
        return SFTPAttributes.from_stat(os.stat(self.jail.on_the_way(path) or self.jail.inside(path)))

    @_guarded
    def lstat(self, path: str):
        way = self.jail.on_the_way(path)
        return SFTPAttributes.from_stat(os.stat(way) if way else os.lstat(self.jail.inside(path)))

    @_guarded
    def open(self, path: str, flags: int, attr):
        local = self.jail.inside(path)
        mode = getattr(attr, "st_mode", None) or 0o644
        descriptor = os.open(local, flags | getattr(os, "O_BINARY", 0), mode & 0o777)
        if flags & os.O_WRONLY:
            fmode = "ab" if flags & os.O_APPEND else "wb"
        elif flags & os.O_RDWR:
            fmode = "a+b" if flags & os.O_APPEND else "r+b"
        else:
            fmode = "rb"
        handle = ConfinedHandle(flags)
        handle.filename = local
        handle.readfile = handle.writefile = os.fdopen(descriptor, fmode)
        return handle

    @_guarded
    def remove(self, path: str):
        os.remove(self.jail.inside(path))
        return SFTP_OK

    @_guarded
    def rename(self, oldpath: str, newpath: str):
        old, new = self.jail.inside(oldpath), self.jail.inside(newpath)
        if self.jail.is_folder(old):
            raise Denied(oldpath)
        if os.path.lexists(new):
            return SFTP_FAILURE  # SFTP v3: rename never replaces; posix-rename does
        os.rename(old, new)
        return SFTP_OK

    @_guarded
    def posix_rename(self, oldpath: str, newpath: str):
        old, new = self.jail.inside(oldpath), self.jail.inside(newpath)
        if self.jail.is_folder(old) or self.jail.is_folder(new):
            raise Denied(oldpath)
        os.replace(old, new)
        return SFTP_OK

    @_guarded
    def mkdir(self, path: str, attr):
        if self.jail.on_the_way(path):
            return SFTP_FAILURE  # it exists, as for the sshd
        os.mkdir(self.jail.inside(path), 0o755)
        return SFTP_OK

    @_guarded
    def rmdir(self, path: str):
        local = self.jail.inside(path)
        if self.jail.is_folder(local):
            raise Denied(path)
        os.rmdir(local)
        return SFTP_OK

    @_guarded
    def chattr(self, path: str, attr):
        local = self.jail.inside(path)
        attr._flags &= ~attr.FLAG_UIDGID  # owners are not the client's to change
        SFTPServer.set_file_attr(local, attr)
        return SFTP_OK

    def readlink(self, path: str):
        return SFTP_OP_UNSUPPORTED

    def symlink(self, target_path: str, path: str):
        return SFTP_OP_UNSUPPORTED
