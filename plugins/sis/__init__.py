"""The central SIS store as a source (by outbox or watermark) and a target (upserts)."""

from __future__ import annotations

from runtime.plugin import Plugin

from .spec import SisSource, SisTarget


def _source(spec, ctx):
    from .source import SisStoreSource

    return SisStoreSource(spec, ctx)


def _target(spec, ctx):
    from .target import SisStoreTarget

    return SisStoreTarget(spec, ctx)


def _check(spec, ctx):
    from .check import check_spec

    return check_spec(spec, ctx)


plugin = Plugin(
    type="sis",
    description="The central SIS store (SQLite or PostgreSQL): read changes, write upserts.",
    source_spec=SisSource,
    target_spec=SisTarget,
    create_source=_source,
    create_target=_target,
    check=_check,
)
