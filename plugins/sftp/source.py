"""``SftpPickupSource``: pick files up from an SFTP folder, crash-safe (see ``plugins.file.pickup``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from runtime.plugin import Batch, PluginContext, Source

from plugins.file.pickup import Pickup
from plugins.sftp.connection import connect
from plugins.sftp.storage import SftpStorage


class SftpPickupSource(Source):
    """Lists ``directory`` by ``pattern`` (sorted by name), claims each file by renaming it into
    ``processing/``, yields its records in batches, and archives or deletes it after ``commit``."""

    def __init__(self, spec: Any, ctx: PluginContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.client = None
        self.pickup: Pickup | None = None

    def open(self) -> None:
        if self.client is not None:
            transport = self.client.get_transport()
            if transport is not None and transport.is_active():
                return
            self.close()  # the session died (server restarted): connect again
        self.client, sftp = connect(self.ctx)
        base_dir = (self.ctx.system.options or {}).get("base_dir") if self.ctx.system else None
        storage = SftpStorage(sftp, base_dir)
        self.pickup = Pickup(storage, self.spec, self.ctx, self.spec.directory, self.spec.archive_directory)
        self.pickup.prepare()

    def read(self, cursor: str | None) -> Iterator[Batch]:
        self.open()
        return self.pickup.read(cursor)

    def commit(self, batch: Batch) -> None:
        self.pickup.commit(batch)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
