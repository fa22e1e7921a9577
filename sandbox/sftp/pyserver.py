"""The SFTP stand-in without OpenSSH: a pure-Python SFTP server (paramiko) in a thread.

The sandbox runner uses it when no usable sshd is there (``select_server``): ``/usr/sbin/sshd``
missing, or the login the catalog names (``koppel``) impossible for an sshd on this machine
(as root: no such account; as another user: not that user). ``KOPPEL_SANDBOX_SFTP`` forces the
choice: ``sshd`` (OpenSSH only; the SFTP systems are skipped when it cannot start), ``paramiko``
(this server), or ``auto`` (the default: sshd when usable, else this server).

It is the same stand-in to Koppel, from the same files under ``var/sandbox/sftp/``: the same
port, host key (``sshd/ssh_host_ed25519_key``), ``known_hosts`` and ``client_key`` (both made
when missing, with ``cryptography``, so ``ssh-keygen`` is not needed either), per-system folders
and Facet/TOA partners (``sandbox.sftp.partners``). A session starts in the project root, as
with the sshd, so the catalog's relative ``base_dir`` means the same on both sides.

Login: public key only, for the given user name (the catalog's), with the sandbox client key
only; passwords, keyboard-interactive and other keys are refused, and only the ``sftp``
subsystem is served (no shell, no exec, no forwarding).

Confinement: a client sees the systems' folders and nothing else. Every path is normalised
against the session root first (``..`` cannot climb out lexically), and what it names on disk
(``os.path.realpath``, so through any symlink) must lie inside one of the systems' folders; the
folders on the way to them (``var``, ``var/sandbox``, ...) can be stat'ed and listed (showing only
the way on), nothing more. Anything else is "permission denied".

    from sandbox.sftp.pyserver import start
    server = start(project_root, 2222)   # same API and fields as sandbox.sftp.server.start
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from sandbox.sftp import server as sshd_server

ENV_CHOICE = "KOPPEL_SANDBOX_SFTP"
#: the server side of each session logs here, warnings only (a login or an SFTP request is routine)
SESSION_LOG = "koppel.sandbox.sftp.session"
CHOICES = ("auto", "sshd", "paramiko")


# -- which server ------------------------------------------------------------------------------

def sshd_unusable(username: str) -> str | None:
    """Why this machine's OpenSSH sshd cannot serve a login as ``username`` (None: it can)."""
    import pwd

    if not os.path.exists(sshd_server.SSHD):
        return f"{sshd_server.SSHD} is missing"
    if os.geteuid() != 0:
        if username != getpass.getuser():
            return f"not root, and the catalog logs in as '{username}', not '{getpass.getuser()}'"
        return None
    try:
        pwd.getpwnam(username)
    except KeyError:
        return f"no account '{username}' (.ci/install-sshd.sh creates it)"
    return None


def select_server(username: str) -> tuple[str, str]:
    """``("sshd" | "paramiko", why)`` from ``KOPPEL_SANDBOX_SFTP`` and what this machine has."""
    choice = (os.environ.get(ENV_CHOICE) or "auto").strip().lower()
    if choice not in CHOICES:
        raise ValueError(f"{ENV_CHOICE}={choice!r}: expected one of {', '.join(CHOICES)}")
    if choice == "sshd":
        return "sshd", f"{ENV_CHOICE}=sshd"
    if choice == "paramiko":
        return "paramiko", f"{ENV_CHOICE}=paramiko"
    reason = sshd_unusable(username)
    return ("sshd", "OpenSSH sshd is usable") if reason is None else ("paramiko", f"no usable sshd: {reason}")


# -- the server --------------------------------------------------------------------------------

@dataclass
class PySftpServer:
    """What ``start`` returns: the fields of ``sandbox.sftp.server.SftpServer``, plus ``kind``."""

    kind: ClassVar[str] = "paramiko"
    port: int
    username: str
    state_dir: Path
    client_key: Path
    known_hosts: Path
    base_dirs: dict[str, Path]
    process: None = None  # no child process: threads of this one serve
    exposed: Path | None = None
    partners: object | None = field(default=None, repr=False)
    _listener: "_Listener | None" = field(default=None, repr=False)

    def stop(self) -> None:
        if self.partners is not None:
            self.partners.stop()
            self.partners = None
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    def __enter__(self) -> "PySftpServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start(project_root: Path, port: int = sshd_server.DEFAULT_PORT, *,
          systems: tuple[str, ...] = sshd_server.SYSTEMS, state_dir: Path | None = None,
          username: str | None = None, start_dir: Path | None = None, partners: bool = True,
          **_ignored) -> PySftpServer:
    """Listen on 127.0.0.1:``port`` and return once it accepts connections (arguments as
    ``sandbox.sftp.server.start``; ``username`` defaults to ``koppel``, no account needed)."""
    import paramiko

    from sandbox.sftp.pysession import Jail

    project_root = Path(project_root).resolve()
    state_dir = Path(state_dir or sshd_server.sandbox_dir(project_root)).resolve()
    start_dir = Path(start_dir or project_root).resolve()
    user = username or sshd_server.SANDBOX_USER

    sshd_dir = state_dir / "sshd"
    sshd_dir.mkdir(parents=True, exist_ok=True)
    host_key_path = _keypair(sshd_dir / "ssh_host_ed25519_key")
    client_key = _keypair(state_dir / "client_key")
    known_hosts = sshd_server.write_known_hosts(state_dir / "known_hosts", host_key_path, port)

    base_dirs = {}
    for system in systems:
        folder = state_dir / system
        folder.mkdir(parents=True, exist_ok=True)  # a link left by an sshd run as root is kept
        base_dirs[system] = folder

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise RuntimeError(f"port {port} is taken ({exc.strerror})") from None
    sock.listen(16)
    listener = _Listener(sock, paramiko.Ed25519Key(filename=str(host_key_path)), user,
                         Path(f"{client_key}.pub").read_text().split()[:2],
                         Jail(start_dir, list(base_dirs.values())))
    logging.getLogger(SESSION_LOG).setLevel(logging.WARNING)
    listener.start()
    server = PySftpServer(port, user, state_dir, client_key, known_hosts, base_dirs, _listener=listener)
    if partners:
        from sandbox.sftp.partners import ResultProducer

        # files stay the current user's: no OS account stands behind this server's login
        server.partners = ResultProducer(base_dirs, None).start()
    return server


class _Listener:
    """Accepts connections in a thread; each gets a paramiko Transport (its own thread)."""

    def __init__(self, sock: socket.socket, host_key, username: str, client_key: list[str], jail) -> None:
        self.sock, self.host_key, self.username, self.client_key, self.jail = sock, host_key, username, client_key, jail
        self.transports: set = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="sandbox-sftp-paramiko", daemon=True)

    def start(self) -> None:
        self.sock.settimeout(0.2)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()
        with self.lock:
            transports, self.transports = list(self.transports), set()
        for transport in transports:
            transport.close()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=self._serve, args=(conn,), name="sandbox-sftp-session", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        import paramiko

        from sandbox.sftp.pysession import ConfinedSftp, Login

        transport = paramiko.Transport(conn)
        transport.set_log_channel(SESSION_LOG)  # quieter than the client's own paramiko.transport
        transport.add_server_key(self.host_key)
        transport.set_subsystem_handler("sftp", paramiko.SFTPServer, ConfinedSftp, self.jail)
        with self.lock:
            self.transports = {t for t in self.transports if t.is_active()}
            if self.stopping.is_set():
                transport.close()
                return
            self.transports.add(transport)
        try:
            transport.start_server(server=Login(self.username, self.client_key))
        except (paramiko.SSHException, EOFError, OSError):
            transport.close()


def _keypair(path: Path) -> Path:
    """An Ed25519 key pair in OpenSSH format (as ssh-keygen writes it), made once and kept."""
    if not path.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key = Ed25519PrivateKey.generate()
        private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                    serialization.NoEncryption())
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as f:
            f.write(private)
        Path(f"{path}.pub").write_bytes(public + b" koppel-sandbox\n")
    os.chmod(path, 0o600)
    return path
