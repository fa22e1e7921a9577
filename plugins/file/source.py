"""``FileDropSource``: pick files up from a local folder (see ``plugins.file.pickup``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from runtime.plugin import Batch, PluginContext, Source

from plugins.file.pickup import Pickup
from plugins.file.storage import LocalStorage


class FileDropSource(Source):
    """Reads ``directory/pattern`` (relative to the project root), archives or deletes each file
    once all its records are acknowledged; ``after: keep`` leaves them and remembers how far it got."""

    def __init__(self, spec: Any, ctx: PluginContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.pickup = Pickup(LocalStorage(ctx.project_root), spec, ctx, spec.directory, None)

    def open(self) -> None:
        if self.spec.after != "keep":
            self.pickup.prepare()

    def read(self, cursor: str | None) -> Iterator[Batch]:
        return self.pickup.read(cursor)

    def commit(self, batch: Batch) -> None:
        self.pickup.commit(batch)
