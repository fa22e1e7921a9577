"""Contract cases of the ``file`` plugin: a local drop folder (source) and atomic files (target)."""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import tempfile
from pathlib import Path

import pytest

from plugins.file import plugin
from runtime.plugin import Item, PluginContext

from .framework import SourceContract, SourceHarness, TargetContract, TargetHarness


@contextlib.contextmanager
def _folder_unavailable(folder: Path):
    """The folder is not there as a folder while active, as when its share drops: a file stands
    in its place (every operation in it fails with an OSError, ENOTDIR), then it comes back as it was."""
    aside = folder.with_name(folder.name + ".aside")
    if folder.exists():
        folder.rename(aside)
    folder.write_text("the share is not mounted")
    try:
        yield
    finally:
        folder.unlink()
        if aside.exists():
            aside.rename(folder)


def _context(root: Path, batch_size: int) -> PluginContext:
    return PluginContext(environment="sandbox", project_root=root, interface_id=9,
                         options={"batch_size": batch_size})


class FolderSourceHarness(SourceHarness):
    batch_size = 3
    resumable = True

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="koppel-contract-file-"))
        self.files = itertools.count(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def make_source(self):
        spec = plugin.source_spec.model_validate({
            "type": "file", "directory": "drop", "pattern": "*.jsonl", "format": {"type": "jsonl"}, "key": "id"})
        return plugin.create_source(spec, _context(self.root, self.batch_size))

    def seed(self, count: int) -> list[str]:
        n = next(self.files)
        keys = [f"{n}-{i}" for i in range(count)]
        (self.root / "drop").mkdir(exist_ok=True)
        (self.root / "drop" / f"f{n:04}.jsonl").write_text("".join(json.dumps({"id": k}) + "\n" for k in keys))
        return keys

    def reset(self) -> None:
        shutil.rmtree(self.root / "drop", ignore_errors=True)

    def transient_failure(self):
        (self.root / "drop").mkdir(exist_ok=True)
        return _folder_unavailable(self.root / "drop")


class FolderTargetHarness(TargetHarness):
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="koppel-contract-file-"))
        self.keys = itertools.count(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def make_target(self):
        spec = plugin.target_spec.model_validate({
            "type": "file", "directory": "out", "filename": "export-{run}.csv",
            "format": {"type": "csv", "encoding": "cp1252"}})
        return plugin.create_target(spec, _context(self.root, 10))

    def items(self, count: int) -> list[Item]:
        keys = [f"K{next(self.keys)}" for _ in range(count)]
        return [Item(key=k, payload={"key": k, "plaats": "Den Bosch"}, source_key=k) for k in keys]

    def rejected_item(self) -> Item:
        return Item(key="KBAD", payload={"key": "KBAD", "plaats": "Łódź"}, source_key="KBAD")

    def delivered_keys(self) -> list[str]:
        keys = []
        for path in sorted((self.root / "out").glob("*.csv")):
            keys += [line.split(";")[0] for line in path.read_bytes().decode("cp1252").splitlines()[1:]]
        return keys

    def reset(self) -> None:
        shutil.rmtree(self.root / "out", ignore_errors=True)

    def transient_failure(self):
        (self.root / "out").mkdir(exist_ok=True)
        return _folder_unavailable(self.root / "out")


class TestFileSource(SourceContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls):
        with FolderSourceHarness() as harness:
            yield harness


class TestFileTarget(TargetContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls):
        with FolderTargetHarness() as harness:
            yield harness
