"""Local files in the shared formats (CSV, JSON, JSON Lines, XML, XLSX)."""

from __future__ import annotations

from runtime.plugin import Plugin

from .spec import FileSource, FileTarget


def _source(spec, ctx):
    from .source import FileDropSource

    return FileDropSource(spec, ctx)


def _target(spec, ctx):
    from .target import FileDropTarget

    return FileDropTarget(spec, ctx)


plugin = Plugin(
    type="file",
    description="Local files: read from and write to a folder, atomically.",
    source_spec=FileSource,
    target_spec=FileTarget,
    create_source=_source,
    create_target=_target,
)
