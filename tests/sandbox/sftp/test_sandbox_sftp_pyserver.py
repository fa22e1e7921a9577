"""The sftp plugin against the paramiko SFTP stand-in: atomic uploads, pick-up and archive,
Facet's answer to a candidate file, refused logins, and no way out of the sandbox folders."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from pysftp_helpers import context, sftp_client

from plugins.sftp.source import SftpPickupSource
from plugins.sftp.spec import SftpSource, SftpTarget
from plugins.sftp.target import SftpUploadTarget
from runtime.errors import ConfigError
from runtime.plugin import Item


@pytest.fixture()
def folder(pysftp):
    """A fresh folder under Facet's base_dir: its name for the plugin, and where it is on disk."""
    name = f"t{uuid.uuid4().hex[:8]}"
    return name, pysftp.base_dirs["facet"] / name


def upload(server, directory, **spec):
    spec = {"type": "sftp", "system": "facet", "directory": directory, "filename": "kandidaten-{date}.csv",
            "format": {"type": "csv"}, **spec}
    return SftpUploadTarget(SftpTarget.model_validate(spec), context(server.root, server))


def pickup(server, directory, **spec):
    spec = {"type": "sftp", "system": "facet", "directory": directory, "pattern": "*.xml",
            "format": {"type": "xml", "record": "assessmentResult"}, **spec}
    return SftpPickupSource(SftpSource.model_validate(spec), context(server.root, server))


def items(n, start=0):
    return [Item(key=f"k{i}", payload={"kandidaat": f"K{i}", "hulpmiddel": "extraTime"}, source_key=f"S{i}")
            for i in range(start, start + n)]


def visible(local):
    return sorted(p.name for p in local.iterdir() if p.is_file() and not p.name.startswith("."))


QTI = """<?xml version="1.0"?><assessmentResult xmlns="http://www.imsglobal.org/xsd/imsqti_result_v2p2">
<context sourcedId="{0}"/><testResult identifier="T" datestamp="2026-06-01T10:00:00"/></assessmentResult>"""


# -- the plugin, as interfaces 5, 25 and 26 use it ------------------------------------------------

def test_upload_is_invisible_until_published_whole(pysftp, folder):
    directory, local = folder
    target = upload(pysftp, directory)
    target.open()
    assert all(o.ok for o in target.write(items(2)))
    assert all(o.ok for o in target.write(items(1, 2)))
    assert visible(local) == [], "the partner must not see a file that is still being written"
    target.close()
    [name] = visible(local)
    assert (local / name).read_text().splitlines() == ["kandidaat;hulpmiddel", "K0;extraTime", "K1;extraTime",
                                                        "K2;extraTime"]
    assert [p.name for p in local.iterdir() if p.name.startswith(".")] == [], "no temporary file left behind"


def test_per_record_upload_replaces_nothing_and_names_each_file(pysftp, folder):
    directory, local = folder
    target = upload(pysftp, directory, per="record", filename="{key}.json", format={"type": "json"})
    target.open()
    outcomes = target.write(items(2))
    target.close()
    assert [o.reference for o in outcomes] == ["S0.json", "S1.json"]
    assert json.loads((local / "S1.json").read_text()) == {"kandidaat": "K1", "hulpmiddel": "extraTime"}


def test_pick_up_by_glob_archives_after_commit_and_survives_a_crash(pysftp, folder):
    directory, local = folder
    local.mkdir()
    for name in ("r2.xml", "r1.xml", "r3.xml"):
        (local / name).write_text(QTI.format(name))
    (local / "notes.txt").write_text("not a result")

    source = pickup(pysftp, directory)
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

    source = pickup(pysftp, directory)
    source.open()
    rest = []
    for batch in source.read(cursor):
        rest += [r.data["context"]["@sourcedId"] for r in batch.records]
        source.commit(batch)
    source.close()
    assert rest == ["r3.xml"], "the file left in processing/ is resumed, nothing read twice"
    assert visible(local / "archive") == ["r1.xml", "r2.xml", "r3.xml"]
    assert visible(local) == ["notes.txt"]


def test_toa_answers_an_uploaded_user_import_with_results_koppel_picks_up(pysftp):
    toa = context(pysftp.root, pysftp, system_name="toa", options={"base_dir": "var/sandbox/sftp/toa"})
    spec = {"type": "sftp", "system": "toa", "directory": "import", "format": {"type": "csv", "delimiter": ";"},
            "filename": f"toa-kandidaten-{uuid.uuid4().hex[:6]}.csv"}
    target = SftpUploadTarget(SftpTarget.model_validate(spec), toa)
    target.open()
    target.write([Item(key="S100001", source_key="S100001",
                       payload={"importlabel": "toevoegen", "studentnummer": "S100001", "toetscode": "NL-2F",
                                "toetsdatum": "2026-06-03"})])
    target.close()
    results = pysftp.base_dirs["toa"] / "export"
    deadline = time.monotonic() + 10
    while not list(results.glob("toa-S100001-NL-2F-*.xml")) and time.monotonic() < deadline:
        time.sleep(0.1)
    spec = {"type": "sftp", "system": "toa", "directory": "export", "pattern": "toa-S100001-NL-2F-*.xml",
            "format": {"type": "xml", "record": "assessmentResult"}}
    source = SftpPickupSource(SftpSource.model_validate(spec), toa)
    source.open()
    records = []
    for batch in source.read(None):
        records += batch.records
        source.commit(batch)
    source.close()
    assert [r.data["context"]["@sourcedId"] for r in records] == ["S100001"]
    assert visible(results / "archive") == ["toa-S100001-NL-2F-20260603.xml"]


# -- logins -----------------------------------------------------------------------------------------

def test_another_key_is_refused(pysftp, folder, tmp_path):
    from sandbox.sftp.pyserver import _keypair

    stranger = _keypair(tmp_path / "stranger")
    target = upload(pysftp, folder[0])
    target.ctx = context(pysftp.root, pysftp, auth={"type": "ssh_key", "username": "koppel",
                                                     "private_key": f"${{file:{stranger}}}"})
    with pytest.raises(ConfigError, match="refused"):
        target.open()


def test_the_right_key_for_another_user_is_refused(pysftp, folder):
    target = upload(pysftp, folder[0])
    target.ctx = context(pysftp.root, pysftp, auth={"type": "ssh_key", "username": "root",
                                                     "private_key": f"${{file:{pysftp.client_key}}}"})
    with pytest.raises(ConfigError, match="refused"):
        target.open()


def test_passwords_and_no_credentials_are_refused(pysftp):
    import socket

    import paramiko

    for attempt in ("password", "none"):
        with socket.create_connection(("127.0.0.1", pysftp.port), timeout=5) as sock:
            transport = paramiko.Transport(sock)
            try:
                transport.start_client(timeout=5)
                with pytest.raises(paramiko.AuthenticationException) as refused:
                    if attempt == "password":
                        transport.auth_password("koppel", "koppel")
                    else:
                        transport.auth_none("koppel")
                assert not transport.is_authenticated()
                if isinstance(refused.value, paramiko.BadAuthenticationType):
                    assert refused.value.allowed_types == ["publickey"]
            finally:
                transport.close()


def test_unknown_host_key_is_refused_by_the_plugin(pysftp, folder, tmp_path):
    other = tmp_path / "known_hosts"
    other.write_text(f"[127.0.0.1]:{pysftp.port} ssh-ed25519 "
                     "AAAAC3NzaC1lZDI1NTE5AAAAIEw8pHx2yeUqVqvM9ZEbbyMH7xL1JxkwCbNqU6yG0v3M\n")
    target = upload(pysftp, folder[0])
    target.ctx = context(pysftp.root, pysftp, known_hosts=str(other))
    with pytest.raises(ConfigError, match="host key"):
        target.open()


# -- confinement ------------------------------------------------------------------------------------

def test_no_path_leads_out_of_the_sandbox_folders(pysftp, tmp_path):
    root = pysftp.root
    facet = pysftp.base_dirs["facet"]
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    (facet / "escape").mkdir(exist_ok=True)
    link = facet / "escape" / "link"
    if not link.is_symlink():
        link.symlink_to(secret)
    dangling = facet / "escape" / "dangling"
    if not dangling.is_symlink():
        dangling.symlink_to(tmp_path / "planted.txt")
    up_link = facet / "escape" / "up"
    if not up_link.is_symlink():
        up_link.symlink_to(root, target_is_directory=True)

    client = sftp_client(pysftp)
    sftp = client.open_sftp()
    try:
        for path in ("catalog.yaml", "var/sandbox/sftp/facet/../../../../catalog.yaml",
                     "var/sandbox/sftp/facet/escape/link", "var/sandbox/sftp/facet/escape/up/catalog.yaml",
                     str(secret), "/etc/passwd", "../" * 12 + "etc/passwd"):
            with pytest.raises(PermissionError):
                sftp.open(path, "rb")
        for path in ("var/sandbox/sftp/facet/../../planted.txt", "var/sandbox/sftp/facet/escape/dangling",
                     "var/sandbox/sftp/facet/escape/up/planted.txt", str(tmp_path / "planted.txt")):
            with pytest.raises(PermissionError):
                sftp.open(path, "wb")
        assert not (tmp_path / "planted.txt").exists() and not (root / "planted.txt").exists()
        (facet / "mine.txt").write_text("inside")
        with pytest.raises(PermissionError):
            sftp.posix_rename("var/sandbox/sftp/facet/mine.txt", "var/sandbox/sftp/facet/../../../../stolen.txt")
        with pytest.raises(PermissionError):
            sftp.posix_rename("var/sandbox/sftp/facet/../../../../catalog.yaml", "var/sandbox/sftp/facet/got.txt")
        with pytest.raises(OSError):
            sftp.symlink("/", "var/sandbox/sftp/facet/root")
        with pytest.raises(PermissionError):
            sftp.mkdir("var/elsewhere")
        with pytest.raises(PermissionError):
            sftp.listdir("var/sandbox/sftp/facet/escape/up")
        # the way to the folders is visible, and nothing beside it
        assert sftp.listdir(".") == ["var"]
        assert sftp.listdir("var/sandbox/sftp") == ["facet", "toa"]
        assert (root / "catalog.yaml").read_text() == "not for SFTP clients\n"
        assert sftp.open("var/sandbox/sftp/facet/mine.txt").read() == b"inside"
    finally:
        client.close()


def test_the_sandbox_folders_themselves_cannot_be_removed_or_moved(pysftp):
    client = sftp_client(pysftp)
    sftp = client.open_sftp()
    try:
        with pytest.raises(PermissionError):
            sftp.rmdir("var/sandbox/sftp/toa")
        with pytest.raises(PermissionError):
            sftp.posix_rename("var/sandbox/sftp/toa", "var/sandbox/sftp/facet/toa")
        assert pysftp.base_dirs["toa"].is_dir()
    finally:
        client.close()
