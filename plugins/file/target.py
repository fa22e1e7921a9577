"""``FileDropTarget``: write records into a local folder, atomically (see ``plugins.file.publish``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtime.plugin import Item, Outcome, PluginContext, Target

from plugins.file.publish import Publisher
from plugins.file.storage import LocalStorage


class FileDropTarget(Target):
    def __init__(self, spec: Any, ctx: PluginContext) -> None:
        self.publisher = Publisher(LocalStorage(ctx.project_root), spec, ctx, spec.directory)

    def open(self) -> None:
        self.publisher.open()

    def write(self, items: Sequence[Item]) -> list[Outcome]:
        return self.publisher.write(items)

    def render(self, item: Item) -> str:
        return self.publisher.render(item)

    def close(self) -> None:
        self.publisher.close()
