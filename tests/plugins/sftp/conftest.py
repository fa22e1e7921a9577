"""A real OpenSSH sshd on 127.0.0.1 for the sftp tests (sandbox/sftp/server.py), once per session.

The server gets its own host key, client key, known_hosts and folders in a temporary directory;
an SFTP session starts in that directory, so a system's ``base_dir`` is simply ``facet``.
Missing sshd: the tests skip and say to run .ci/install-sshd.sh (CI runs it).
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from runtime.models.catalog import SystemEnvironment
from runtime.plugin import PluginContext


@pytest.fixture(scope="session")
def sshd(project_root):
    from sandbox.sftp.server import SshdUnavailable, free_port, start

    state = Path(tempfile.mkdtemp(prefix="koppel-sftp-"))
    os.chmod(state, 0o755)  # the login account must reach its folders
    try:
        server = start(project_root, free_port(), state_dir=state, start_dir=state, systems=("facet",))
    except SshdUnavailable as exc:
        shutil.rmtree(state, ignore_errors=True)
        pytest.skip(f"no sshd for the sftp tests: {exc}")
    yield server
    server.stop()
    shutil.rmtree(state, ignore_errors=True)


def own(path: Path, server) -> Path:
    """Make ``path`` (a folder made by the test) belong to the login account, as a partner's is."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        account = pwd.getpwnam(server.username)
        os.chown(path, account.pw_uid, account.pw_gid)
    return path


def system(server, **overrides) -> SystemEnvironment:
    settings = {
        "host": "127.0.0.1", "port": server.port, "known_hosts": str(server.known_hosts), "timeout": 5,
        "auth": {"type": "ssh_key", "username": server.username, "private_key": f"${{file:{server.client_key}}}"},
        "options": {"base_dir": "facet"},
    }
    settings.update(overrides)
    return SystemEnvironment.model_validate(settings)


def context(root: Path, server, *, batch_size: int = 2, interface_id: int = 25, **overrides) -> PluginContext:
    return PluginContext(environment="sandbox", project_root=root, system_name="facet",
                         system=system(server, **overrides), interface_id=interface_id,
                         options={"batch_size": batch_size})


@pytest.fixture()
def folder(sshd) -> tuple[str, Path]:
    """A fresh remote folder (relative to base_dir) and where it is on this machine."""
    name = f"t{uuid.uuid4().hex[:8]}"
    return name, sshd.base_dirs["facet"] / name
