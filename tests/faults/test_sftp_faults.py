"""The sftp plugin (one file per record, each upload its own call) through a TCP proxy in front of
a real sshd that resets the SSH connection at random."""

from __future__ import annotations

import json
import os
import pwd
import uuid

import pytest
from faultcheck import FAULTS_SLOW, check_outcome, deliver_through, streams
from hypothesis import given
from hypothesis import strategies as st
from proxy import TcpFaultProxy

from plugins.sftp import plugin as sftp

pytestmark = pytest.mark.sshd


def _folder(server):
    name = f"f{uuid.uuid4().hex[:8]}"
    path = server.base_dirs["facet"] / name
    path.mkdir(parents=True)
    if os.geteuid() == 0:  # the partner's folder belongs to the login account
        account = pwd.getpwnam(server.username)
        os.chown(path, account.pw_uid, account.pw_gid)
    return name, path


def _newest_files(path) -> dict:
    """Key → content of its newest file. The file plugin never overwrites a partner's file: a
    later change of a record (or an upload repeated because its answer was lost) is published
    as ``<key>-1.json``, ``<key>-2.json``, ... so the partner sees every version in order."""
    newest: dict[str, tuple[int, object]] = {}
    for file in path.glob("*.json"):
        key, _, n = file.stem.partition("-")
        number = int(n) if n else 0
        if key not in newest or number > newest[key][0]:
            content = json.loads(file.read_text())
            newest[key] = (number, content[0] if isinstance(content, list) and len(content) == 1 else content)
    return {k: v for k, (_, v) in newest.items()}


@FAULTS_SLOW
@given(stream=streams(min_size=100, max_size=150).map(lambda s: type(s)(s.records, set())),
       rate=st.floats(0.1, 0.5), seed=st.integers(0, 2**16))
def test_resets_of_the_ssh_connection_leave_every_file_with_its_latest_content(workdir, sshd, stream, rate,
                                                                                seed) -> None:
    root = workdir()
    name, path = _folder(sshd)
    # an upload is a handful of SFTP packets (open, write, close, rename) and a connection many
    # more (key exchange, auth): per packet a tenth of the rate fails 10-50% of the uploads
    with TcpFaultProxy(("127.0.0.1", sshd.port), rate=rate / 10, kinds=("reset",), seed=seed) as proxy:
        known_hosts = root / "known_hosts"
        known_hosts.write_text(sshd.known_hosts.read_text().replace(f"]:{sshd.port} ", f"]:{proxy.port} "))
        target = {"type": "sftp", "system": "facet", "directory": name, "per": "record",
                  "filename": "{key}.json", "format": {"type": "json"}}
        summary, letters = deliver_through(root, {"sftp": sftp}, target, stream, interface_id=25, systems={"facet": {
            "host": "127.0.0.1", "port": proxy.port, "known_hosts": str(known_hosts), "timeout": 5,
            "auth": {"type": "ssh_key", "username": sshd.username, "private_key": f"${{file:{sshd.client_key}}}"},
            "options": {"base_dir": "facet"}}})
    arrived = _newest_files(path)
    assert not list(path.glob(".*")), "a half-written file was left behind"
    check_outcome(stream, arrived, set(arrived), letters)
    assert summary.outcome == "ok" and len(arrived) == len(stream.latest())
    assert proxy.connections >= 1
