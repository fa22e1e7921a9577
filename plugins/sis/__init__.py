"""The central SIS store as a source (by outbox or watermark) and a target (upserts)."""

from __future__ import annotations

from runtime.plugin import Plugin, lazy

from .spec import SisSource, SisTarget


def writeback_spec(object_name: str) -> SisTarget:
    """The target that writes a target's answer back into an SIS object (runtime/engine/writeback.py)."""
    return SisTarget(type="sis", system="sis", object=object_name)


plugin = Plugin(
    type="sis",
    description="The central SIS store (SQLite or PostgreSQL): read changes, write upserts.",
    source_spec=SisSource,
    target_spec=SisTarget,
    create_source=lazy("plugins.sis.source:SisStoreSource"),
    create_target=lazy("plugins.sis.target:SisStoreTarget"),
    check=lazy("plugins.sis.check:check_spec"),
    fields=lazy("plugins.sis.check:target_fields"),
    writeback_spec=writeback_spec,
)
