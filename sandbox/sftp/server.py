"""The SFTP stand-in for Facet, TOA and the aanmeldmodule: a real OpenSSH sshd on 127.0.0.1.

API for the sandbox runner (``koppel sandbox up``) and the tests::

    from sandbox.sftp.server import start, stop

    server = start(project_root)              # port 2222, systems aanmeldmodule, toa
    server.port, server.username              # where and as whom to log in
    server.client_key, server.known_hosts     # var/sandbox/sftp/client_key, .../known_hosts
    server.base_dirs["toa"]                   # var/sandbox/sftp/toa (absolute Path)
    stop(server)                              # or server.stop(); also a context manager

    python -m sandbox.sftp.server [--port 2222]   # runs in the foreground until Ctrl-C

What ``start`` does, all under ``var/sandbox/sftp/`` (``KOPPEL_VAR_DIR`` moves ``var``):
- ``sshd/``: the sshd's own config, host key, authorized_keys, pid and log file. Nothing of the
  machine's ssh setup is read or changed; only ``/usr/sbin/sshd`` is needed
  (``.ci/install-sshd.sh`` installs it where missing).
- ``client_key`` (Ed25519, no passphrase) and ``known_hosts`` with the server's host key for
  ``[127.0.0.1]:<port>``: exactly what catalog.yaml's sandbox settings of aanmeldmodule
  and toa point at. Keys are made once and kept, so a restart does not invalidate them.
- one folder per system (``options.base_dir`` in the catalog), created and owned by the login.
- Facet and TOA behave as partners (``sandbox.sftp.partners``): candidate files Koppel uploads
  are read and answered with QTI 2.2 result files to pick up (``partners=False``: a bare server).
- ``Subsystem sftp internal-sftp -d <project root>``: a session starts in the project root, so a
  relative base_dir such as ``var/sandbox/sftp/toa`` means the same on both sides.
- When the login account cannot enter the project folder (as root, with the project under a
  private folder such as pytest's ``/tmp/pytest-of-root``), the sshd's files and the systems'
  folders live in ``/tmp/koppel-sftp-<hash>/`` instead (the session starts there, with the same
  relative paths), and ``var/sandbox/sftp/<system>`` are links to those folders.

Login user: the catalog's sandbox settings log in as ``koppel``. An sshd started as root logs
clients in as an existing account, so as root the system account ``koppel`` must exist
(``.ci/install-sshd.sh`` creates it). An sshd started by an ordinary user can only log that user
in; then ``start`` uses the current user, and the catalog's ``koppel`` is refused: pass
``username=`` to match your settings, or run the sandbox as root.

Only 127.0.0.1 is listened on; password and keyboard-interactive login are off.

Where this sshd cannot serve the catalog's login (no ``/usr/sbin/sshd``, no ``koppel`` account,
not root), the sandbox runner starts ``sandbox.sftp.pyserver`` instead: the same files and
folders, served by paramiko (``KOPPEL_SANDBOX_SFTP=auto|sshd|paramiko``).
"""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

SSHD = "/usr/sbin/sshd"
DEFAULT_PORT = 2222
SYSTEMS = ("aanmeldmodule", "toa")
SANDBOX_USER = "koppel"


class SshdUnavailable(RuntimeError):
    """sshd is not installed, or the login account is missing: run .ci/install-sshd.sh."""


@dataclass
class SftpServer:
    kind: ClassVar[str] = "sshd"
    port: int
    username: str
    state_dir: Path
    client_key: Path
    known_hosts: Path
    base_dirs: dict[str, Path]
    process: subprocess.Popen | None = field(default=None, repr=False)
    #: the folder under /tmp used when the login account cannot enter the project (else None)
    exposed: Path | None = None
    #: Facet's and TOA's behaviour: candidate files read, QTI results dropped (sandbox.sftp.partners)
    partners: object | None = field(default=None, repr=False)

    def stop(self) -> None:
        stop(self)

    def __enter__(self) -> "SftpServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def sandbox_dir(project_root: Path) -> Path:
    from runtime.paths import var_dir

    return var_dir(Path(project_root)) / "sandbox" / "sftp"


def login_user(username: str | None = None) -> str:
    """Whom this machine's sshd can log in: ``koppel`` as root, else the current user."""
    if username:
        return username
    return SANDBOX_USER if os.geteuid() == 0 else getpass.getuser()


def start(project_root: Path, port: int = DEFAULT_PORT, *, systems: tuple[str, ...] = SYSTEMS,
          state_dir: Path | None = None, username: str | None = None, start_dir: Path | None = None,
          timeout: float = 10.0, partners: bool = True) -> SftpServer:
    """Start the sshd on 127.0.0.1:``port`` and return once it accepts connections.

    ``state_dir`` (default ``var/sandbox/sftp``) holds keys, config and the systems' folders;
    ``start_dir`` (default the project root) is where an SFTP session starts. ``partners``: Facet
    and TOA answer candidate files with QTI results (``sandbox.sftp.partners``); stopped by ``stop``.
    """
    project_root = Path(project_root).resolve()
    state_dir = Path(state_dir or sandbox_dir(project_root)).resolve()
    start_dir = Path(start_dir or project_root).resolve()
    user = login_user(username)
    if not os.path.exists(SSHD):
        raise SshdUnavailable(f"{SSHD} is missing: run .ci/install-sshd.sh")
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        raise SshdUnavailable(f"no account '{user}' to log in as: run .ci/install-sshd.sh (as root)") from None

    state_dir.mkdir(parents=True, exist_ok=True)
    # The login account reads authorized_keys and works in the systems' folders. When it cannot
    # reach the project (a project under a private folder, such as pytest's), both live in an
    # exposed folder under /tmp and the project's folders become links to them.
    exposed = None if _reachable(start_dir, account) else _exposed_dir(state_dir)
    session_root = exposed or start_dir
    sshd_dir = (exposed or state_dir) / "sshd"
    sshd_dir.mkdir(parents=True, exist_ok=True)
    host_key = _keypair(sshd_dir / "ssh_host_ed25519_key")
    client_key = _keypair(state_dir / "client_key")
    (sshd_dir / "authorized_keys").write_text(Path(f"{client_key}.pub").read_text())
    known_hosts = write_known_hosts(state_dir / "known_hosts", host_key, port)

    base_dirs = {}
    for system in systems:
        folder = state_dir / system
        real = folder if exposed is None else exposed / _relative(folder, start_dir)
        real.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(real, account.pw_uid, account.pw_gid)
        if exposed is not None:
            _link(folder, real)
        base_dirs[system] = folder

    config = sshd_dir / "sshd_config"
    config.write_text(_config(port, user, sshd_dir, host_key, session_root))
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
    log_file = sshd_dir / "sshd.log"
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config), "-E", str(log_file)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    server = SftpServer(port, user, state_dir, client_key, known_hosts, base_dirs, process, exposed)
    _wait_until_listening(server, log_file, timeout)
    if partners:
        from sandbox.sftp.partners import ResultProducer

        server.partners = ResultProducer(base_dirs, user).start()
    return server


def stop(server: SftpServer) -> None:
    """Stop the sshd started by ``start`` (only that process and its sessions, by their pids)."""
    if server.partners is not None:
        server.partners.stop()
        server.partners = None
    process = server.process
    if process is None or process.poll() is not None:
        return
    sessions = _descendants(process.pid)  # the listener's children outlive it otherwise
    for pid in [process.pid, *sessions]:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    server.process = None


def _reachable(folder: Path, account) -> bool:
    """Whether ``account`` may enter ``folder`` (execute permission on it and every parent)."""
    import stat

    for path in [folder, *folder.parents]:
        try:
            st = path.stat()
        except OSError:
            return False
        mode = st.st_mode
        if st.st_uid == account.pw_uid:
            allowed = mode & stat.S_IXUSR
        elif st.st_gid == account.pw_gid:
            allowed = mode & stat.S_IXGRP
        else:
            allowed = mode & stat.S_IXOTH
        if not allowed:
            return False
    return True


def _exposed_dir(state_dir: Path) -> Path:
    import hashlib
    import tempfile

    digest = hashlib.sha1(str(state_dir).encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"koppel-sftp-{digest}"
    folder.mkdir(mode=0o755, exist_ok=True)
    os.chmod(folder, 0o755)
    return folder


def _relative(folder: Path, start_dir: Path) -> Path:
    try:
        return folder.relative_to(start_dir)
    except ValueError:
        return Path(folder.name)


def _link(folder: Path, real: Path) -> None:
    """``folder`` becomes a link to ``real``; files already in a plain folder move along."""
    if folder.is_symlink():
        if folder.resolve() == real.resolve():
            return
        folder.unlink()
    elif folder.is_dir():
        for child in folder.iterdir():
            shutil.move(str(child), str(real / child.name))
        folder.rmdir()
    folder.symlink_to(real, target_is_directory=True)


def _descendants(pid: int) -> list[int]:
    """The ids of the processes started by ``pid`` (its sshd session processes), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _config(port: int, user: str, sshd_dir: Path, host_key: Path, start_dir: Path) -> str:
    return f"""# written by sandbox/sftp/server.py; rewritten on every start
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {sshd_dir / 'sshd.pid'}
AuthorizedKeysFile {sshd_dir / 'authorized_keys'}
AllowUsers {user}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTunnel no
LogLevel VERBOSE
Subsystem sftp internal-sftp -d {start_dir}
"""


def _keypair(path: Path) -> Path:
    if not path.exists():
        keygen = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "koppel-sandbox", "-f", str(path)],
                       check=True, stdin=subprocess.DEVNULL)
    os.chmod(path, 0o600)
    return path


def _wait_until_listening(server: SftpServer, log_file: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
            raise RuntimeError(f"sshd exited with code {server.process.returncode}: {log}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.5) as sock:
                sock.settimeout(1.0)
                if sock.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.05)
    stop(server)
    raise RuntimeError(f"sshd did not listen on 127.0.0.1:{server.port} within {timeout:.0f}s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:  # pragma: no cover - manual use
    import argparse

    parser = argparse.ArgumentParser(description="Run the SFTP stand-in sshd in the foreground.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--project", type=Path, default=Path.cwd())
    args = parser.parse_args()
    server = start(args.project, args.port)
    print(f"sshd on 127.0.0.1:{server.port}, user {server.username}, known_hosts {server.known_hosts}")
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop(server)


if __name__ == "__main__":
    main()


def write_known_hosts(path: Path, host_key: Path, port: int) -> Path:
    """The known_hosts line the catalog's sandbox settings point at: this server's host key."""
    host = "127.0.0.1" if port == 22 else f"[127.0.0.1]:{port}"
    key_type, key_text = Path(f"{host_key}.pub").read_text().split()[:2]
    path.write_text(f"{host} {key_type} {key_text}\n")
    return path
