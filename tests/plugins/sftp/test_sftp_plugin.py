"""SFTP against a real sshd: key login, host keys always checked, atomic uploads, safe pick-up."""

from __future__ import annotations

import json
import socket

import pytest

from plugins.sftp.source import SftpPickupSource
from plugins.sftp.spec import SftpSource, SftpTarget
from plugins.sftp.target import SftpUploadTarget
from runtime.errors import ConfigError, TransientError
from runtime.plugin import Item

from .conftest import context, own

pytestmark = pytest.mark.sshd


def upload(tmp_path, sshd, directory, **spec):
    spec = {"type": "sftp", "system": "facet", "directory": directory, "filename": "kandidaten-{date}.csv",
            "format": {"type": "csv"}, **spec}
    return SftpUploadTarget(SftpTarget.model_validate(spec), context(tmp_path, sshd))


def pickup(tmp_path, sshd, directory, **spec):
    spec = {"type": "sftp", "system": "facet", "directory": directory, "pattern": "*.xml",
            "format": {"type": "xml", "record": "assessmentResult"}, **spec}
    return SftpPickupSource(SftpSource.model_validate(spec), context(tmp_path, sshd))


def items(n, start=0):
    return [Item(key=f"k{i}", payload={"kandidaat": f"K{i}", "hulpmiddel": "extraTime"}, source_key=f"S{i}")
            for i in range(start, start + n)]


def visible(local):
    return sorted(p.name for p in local.iterdir() if p.is_file() and not p.name.startswith("."))


def test_upload_is_invisible_until_published_whole(tmp_path, sshd, folder):
    directory, local = folder
    target = upload(tmp_path, sshd, directory)
    target.open()
    assert all(o.ok for o in target.write(items(2)))
    assert all(o.ok for o in target.write(items(1, 2)))
    assert visible(local) == [], "the partner must not see a file that is still being written"
    target.close()
    [name] = visible(local)
    assert name.startswith("kandidaten-") and name.endswith(".csv")
    assert (local / name).read_text().splitlines() == ["kandidaat;hulpmiddel", "K0;extraTime", "K1;extraTime",
                                                        "K2;extraTime"]


def test_per_record_upload_resolves_paths_from_base_dir(tmp_path, sshd, folder):
    directory, local = folder
    target = upload(tmp_path, sshd, directory, per="record", filename="{key}.json", format={"type": "json"})
    target.open()
    outcomes = target.write(items(2))
    target.close()
    assert [o.reference for o in outcomes] == ["S0.json", "S1.json"]
    assert json.loads((local / "S1.json").read_text()) == {"kandidaat": "K1", "hulpmiddel": "extraTime"}


QTI = """<?xml version="1.0"?><assessmentResult xmlns="http://www.imsglobal.org/xsd/imsqti_result_v2p2">
<context sourcedId="{0}"/><testResult identifier="T" datestamp="2026-06-01T10:00:00"/></assessmentResult>"""


def test_pick_up_by_glob_archives_after_commit_and_survives_a_crash(tmp_path, sshd, folder):
    directory, local = folder
    own(local, sshd)
    for name in ("r2.xml", "r1.xml", "r3.xml"):
        (local / name).write_text(QTI.format(name))
    (local / "notes.txt").write_text("not a result")

    source = pickup(tmp_path, sshd, directory)
    source.open()
    seen, cursor = [], None
    for n, batch in enumerate(source.read(None)):
        if n == 2:
            break  # crash: r3.xml read (and claimed) but never acknowledged
        seen += [r.data["context"]["@sourcedId"] for r in batch.records]
        cursor = batch.cursor
        source.commit(batch)
    source.close()
    assert seen == ["r1.xml", "r2.xml"]
    assert visible(local / "archive") == ["r1.xml", "r2.xml"]
    assert visible(local / "processing") == ["r3.xml"]

    source = pickup(tmp_path, sshd, directory)
    source.open()
    rest = []
    for batch in source.read(cursor):
        rest += [r.data["context"]["@sourcedId"] for r in batch.records]
        source.commit(batch)
    source.close()
    assert rest == ["r3.xml"], "the file left in processing/ is resumed, nothing read twice"
    assert visible(local / "archive") == ["r1.xml", "r2.xml", "r3.xml"]
    assert visible(local) == ["notes.txt"]


def test_unknown_host_key_is_refused(tmp_path, sshd, folder):
    other = tmp_path / "known_hosts"
    other.write_text(f"[127.0.0.1]:{sshd.port} ssh-ed25519 "
                     "AAAAC3NzaC1lZDI1NTE5AAAAIEw8pHx2yeUqVqvM9ZEbbyMH7xL1JxkwCbNqU6yG0v3M\n")
    target = upload(tmp_path, sshd, folder[0])
    target.ctx = context(tmp_path, sshd, known_hosts=str(other))
    with pytest.raises(ConfigError, match="host key"):
        target.open()
    other.write_text("")
    with pytest.raises(ConfigError, match="never accepted"):
        target.open()


def test_missing_known_hosts_is_a_config_error_naming_the_file(tmp_path, sshd, folder):
    target = upload(tmp_path, sshd, folder[0])
    target.ctx = context(tmp_path, sshd, known_hosts="var/nowhere/known_hosts")
    with pytest.raises(ConfigError, match="var/nowhere/known_hosts"):
        target.open()


def test_wrong_key_is_a_config_error(tmp_path, sshd, folder):
    import paramiko

    key = paramiko.Ed25519Key.from_private_key_file(str(sshd.client_key))  # noqa: F841 - format check
    stranger = tmp_path / "stranger"
    __import__("subprocess").run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    target = upload(tmp_path, sshd, folder[0])
    target.ctx = context(tmp_path, sshd, auth={"type": "ssh_key", "username": sshd.username,
                                                "private_key": f"${{file:{stranger}}}"})
    with pytest.raises(ConfigError, match="refused"):
        target.open()


def test_connection_refused_is_transient(tmp_path, sshd, folder):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    target = upload(tmp_path, sshd, folder[0])
    target.ctx = context(tmp_path, sshd, port=closed_port)
    with pytest.raises(TransientError):
        target.open()
