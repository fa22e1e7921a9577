"""The SFTP stand-in with catalog.yaml's own sandbox settings for toa and the aanmeldmodule."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

from plugins.sftp.source import SftpPickupSource
from plugins.sftp.spec import SftpSource, SftpTarget
from plugins.sftp.target import SftpUploadTarget
from runtime.models.catalog import SystemEnvironment
from runtime.plugin import Item, PluginContext

pytestmark = pytest.mark.sshd


@pytest.fixture()
def sandbox(project_root, monkeypatch):
    from sandbox.sftp.server import SshdUnavailable, free_port, start

    root = Path(tempfile.mkdtemp(prefix="koppel-sandbox-"))
    os.chmod(root, 0o755)  # the stand-in's login account works inside the project folder
    shutil.copy(project_root / "catalog.yaml", root / "catalog.yaml")
    monkeypatch.delenv("KOPPEL_VAR_DIR", raising=False)
    try:
        server = start(root, free_port())
    except SshdUnavailable as exc:
        shutil.rmtree(root)
        pytest.skip(str(exc))
    yield root, server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def catalog_context(root: Path, system: str, port: int) -> PluginContext:
    catalog = yaml.safe_load((root / "catalog.yaml").read_text())
    settings = dict(catalog["systems"][system]["environments"]["sandbox"])
    settings["port"] = port  # the test's free port instead of 2222
    return PluginContext(environment="sandbox", project_root=root, system_name=system,
                         system=SystemEnvironment.model_validate(settings), interface_id=25,
                         options={"batch_size": 100})


def test_catalog_sandbox_settings_reach_each_system_folder(sandbox):
    root, server = sandbox
    assert server.known_hosts == root / "var/sandbox/sftp/known_hosts"
    assert server.client_key == root / "var/sandbox/sftp/client_key"
    for system in ("aanmeldmodule", "toa"):
        assert server.base_dirs[system] == root / "var/sandbox/sftp" / system
        spec = SftpTarget.model_validate({"type": "sftp", "system": system, "directory": "drop",
                                          "filename": "x-{date}.json", "format": {"type": "json"}})
        target = SftpUploadTarget(spec, catalog_context(root, system, server.port))
        target.open()
        target.write([Item(key="1", payload={"system": system}, source_key="1")])
        target.close()
        assert len(list((server.base_dirs[system] / "drop").glob("x-*.json"))) == 1


def test_results_dropped_by_toa_are_picked_up(sandbox):
    root, server = sandbox
    results = server.base_dirs["toa"] / "export"
    results.mkdir()
    shutil.chown(results, server.username) if os.geteuid() == 0 else None
    (results / "r1.xml").write_text("<results><assessmentResult><context sourcedId='S1'/></assessmentResult></results>")
    spec = SftpSource.model_validate({"type": "sftp", "system": "toa", "directory": "export",
                                      "pattern": "*.xml", "format": {"type": "xml", "record": "assessmentResult"}})
    source = SftpPickupSource(spec, catalog_context(root, "toa", server.port))
    source.open()
    records = []
    for batch in source.read(None):
        records += batch.records
        source.commit(batch)
    source.close()
    assert [r.data["context"]["@sourcedId"] for r in records] == ["S1"]
    assert (results / "archive" / "r1.xml").exists()


def test_restart_keeps_keys(sandbox):
    from sandbox.sftp.server import start

    root, server = sandbox
    key = server.client_key.read_text()
    server.stop()
    again = start(root, server.port)
    try:
        assert again.client_key.read_text() == key
    finally:
        again.stop()


def test_a_project_in_a_private_folder_still_works(project_root):
    """As root with the project under a 0700 folder (pytest's tmp_path), the login account cannot
    enter it: the stand-in's folders move to /tmp and the project's become links to them."""
    from sandbox.sftp.server import SshdUnavailable, free_port, start

    private = Path(tempfile.mkdtemp(prefix="koppel-private-"))  # mode 0700
    root = private / "project"
    root.mkdir()
    shutil.copy(project_root / "catalog.yaml", root / "catalog.yaml")
    try:
        server = start(root, free_port())
    except SshdUnavailable as exc:
        shutil.rmtree(private)
        pytest.skip(str(exc))
    try:
        spec = SftpTarget.model_validate({"type": "sftp", "system": "toa", "directory": "import",
                                          "filename": "k.json", "format": {"type": "json"}})
        target = SftpUploadTarget(spec, catalog_context(root, "toa", server.port))
        target.open()
        target.write([Item(key="1", payload={"a": 1}, source_key="1")])
        target.close()
        assert (root / "var/sandbox/sftp/toa/import/k.json").exists()
    finally:
        server.stop()
        shutil.rmtree(private, ignore_errors=True)
        if server.exposed is not None:
            shutil.rmtree(server.exposed, ignore_errors=True)
