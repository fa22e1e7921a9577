"""The paramiko SFTP stand-in (sandbox/sftp/pyserver.py), laid out as in a project: the session
starts in a scratch project root and the systems' folders are var/sandbox/sftp/<system>, as the
catalog's sandbox settings say. Facet and TOA answer candidate files, as in the demo."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def pysftp(tmp_path_factory):
    from sandbox.sftp.pyserver import start
    from sandbox.sftp.server import free_port

    root = tmp_path_factory.mktemp("project")
    (root / "catalog.yaml").write_text("not for SFTP clients\n")
    server = start(root, free_port(), state_dir=root / "var/sandbox/sftp", systems=("facet", "toa"))
    server.root = root
    yield server
    server.stop()
