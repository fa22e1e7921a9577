"""Contract cases of the ``sftp`` plugin against a real OpenSSH sshd on 127.0.0.1 (started here).

Source: each ``seed`` drops one XML file; records are keyed ``<file>#<row>``. Target: one CSV file
(cp1252) per run, published on close. A transient failure is the sshd stopped with its sessions;
it is started again (same port, same keys) when the failure ends.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from plugins.sftp import plugin
from runtime.models.catalog import SystemEnvironment
from runtime.plugin import Item, PluginContext

from .framework import SourceContract, SourceHarness, TargetContract, TargetHarness

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.sshd


class SshdPeer:
    def __init__(self) -> None:
        self.state = Path(tempfile.mkdtemp(prefix="koppel-contract-sftp-"))
        os.chmod(self.state, 0o755)
        self.server = None
        self.port = None

    def start(self) -> None:
        from sandbox.sftp.server import SshdUnavailable, free_port, start

        self.port = self.port or free_port()
        try:
            self.server = start(ROOT, self.port, state_dir=self.state, start_dir=self.state, systems=("peer",))
        except SshdUnavailable as exc:
            pytest.skip(f"no sshd: {exc}")

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.state, ignore_errors=True)

    @property
    def folder(self) -> Path:
        return self.state / "peer" / "box"

    def own(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            account = pwd.getpwnam(self.server.username)
            os.chown(path, account.pw_uid, account.pw_gid)

    def context(self, batch_size: int) -> PluginContext:
        system = SystemEnvironment.model_validate({
            "host": "127.0.0.1", "port": self.port, "known_hosts": str(self.server.known_hosts), "timeout": 3,
            "auth": {"type": "ssh_key", "username": self.server.username,
                     "private_key": f"${{file:{self.server.client_key}}}"},
            "options": {"base_dir": "peer"},
        })
        return PluginContext(environment="sandbox", project_root=ROOT, system_name="peer", system=system,
                             interface_id=26, options={"batch_size": batch_size})

    @contextlib.contextmanager
    def down(self):
        self.stop()
        try:
            yield
        finally:
            self.start()

    def reset(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.own(self.folder)


class SftpSourceHarness(SourceHarness):
    batch_size = 3
    resumable = True

    def __init__(self) -> None:
        self.peer = SshdPeer()
        self.files = itertools.count(1)

    def __enter__(self):
        self.peer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.peer.cleanup()

    def make_source(self):
        spec = plugin.source_spec.model_validate({
            "type": "sftp", "system": "peer", "directory": "box", "pattern": "*.xml",
            "format": {"type": "xml", "record": "result"}})
        return plugin.create_source(spec, self.peer.context(self.batch_size))

    def seed(self, count: int) -> list[str]:
        name = f"results-{next(self.files):04}.xml"
        body = "".join(f"<result><n>{i}</n></result>" for i in range(count))
        (self.peer.folder / name).write_text(f"<results>{body}</results>")
        return [f"{name}#{i}" for i in range(1, count + 1)]

    def reset(self) -> None:
        self.peer.reset()

    def transient_failure(self):
        return self.peer.down()


class SftpTargetHarness(TargetHarness):
    def __init__(self) -> None:
        self.peer = SshdPeer()
        self.keys = itertools.count(1)

    def __enter__(self):
        self.peer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.peer.cleanup()

    def make_target(self):
        spec = plugin.target_spec.model_validate({
            "type": "sftp", "system": "peer", "directory": "box", "filename": "kandidaten-{run}.csv",
            "format": {"type": "csv", "encoding": "cp1252"}})
        return plugin.create_target(spec, self.peer.context(10))

    def items(self, count: int) -> list[Item]:
        keys = [f"K{next(self.keys):05}" for _ in range(count)]
        return [Item(key=k, payload={"key": k, "naam": "Zoë"}, source_key=k) for k in keys]

    def rejected_item(self) -> Item:
        return Item(key="KBAD", payload={"key": "KBAD", "naam": "Łukasz"}, source_key="KBAD")  # not in cp1252

    def delivered_keys(self) -> list[str]:
        keys = []
        for path in sorted(self.peer.folder.glob("*.csv")):
            reader = csv.DictReader(io.StringIO(path.read_bytes().decode("cp1252")), delimiter=";")
            keys += [row["key"] for row in reader]
        return keys

    def reset(self) -> None:
        self.peer.reset()

    def transient_failure(self):
        return self.peer.down()


class TestSftpSource(SourceContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls):
        with SftpSourceHarness() as harness:
            yield harness


class TestSftpTarget(TargetContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls):
        with SftpTargetHarness() as harness:
            yield harness
