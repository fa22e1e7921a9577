"""``SftpUploadTarget``: upload records as files over SFTP, atomically (see ``plugins.file.publish``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtime.plugin import Item, Outcome, PluginContext, Target

from plugins.file.publish import Publisher
from plugins.sftp.connection import connect
from plugins.sftp.storage import SftpStorage


class SftpUploadTarget(Target):
    """One file per run (published on ``close``) or per record; always written under a hidden
    temporary name and renamed into place, so the partner never picks up half a file."""

    def __init__(self, spec: Any, ctx: PluginContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.client = None
        self.publisher: Publisher | None = None

    def open(self) -> None:
        if self.client is not None:
            transport = self.client.get_transport()
            if transport is not None and transport.is_active():
                return
            self.client.close()  # the session died: connect again, keep the file being built
        self.client, sftp = connect(self.ctx)
        base_dir = (self.ctx.system.options or {}).get("base_dir") if self.ctx.system else None
        storage = SftpStorage(sftp, base_dir)
        if self.publisher is None:
            self.publisher = Publisher(storage, self.spec, self.ctx, self.spec.directory)
            self.publisher.open()
        else:
            self.publisher.storage = storage

    def write(self, items: Sequence[Item]) -> list[Outcome]:
        if not items:
            return []
        self.open()
        return self.publisher.write(items)

    def render(self, item: Item) -> str:
        from plugins.file.publish import Publisher
        from plugins.file.storage import LocalStorage

        # rendering needs no connection: the bytes are the same whatever the storage
        return Publisher(LocalStorage(self.ctx.project_root), self.spec, self.ctx, self.spec.directory).render(item)

    def close(self) -> None:
        try:
            if self.publisher is not None and self.client is not None:
                self.open()  # a dropped session is re-opened to publish what was acknowledged
                self.publisher.close()
                self.publisher = None
        finally:
            if self.client is not None:
                self.client.close()
                self.client = None
