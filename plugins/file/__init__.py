"""Local files in the shared formats (CSV, JSON, JSON Lines, XML, XLSX)."""

from __future__ import annotations

from runtime.plugin import Plugin, lazy

from .spec import FileSource, FileTarget

plugin = Plugin(
    type="file",
    description="Local files: read from and write to a folder, atomically.",
    source_spec=FileSource,
    target_spec=FileTarget,
    create_source=lazy("plugins.file.source:FileDropSource"),
    create_target=lazy("plugins.file.target:FileDropTarget"),
)
