"""Database replication: incremental or full, upsert by key, deletes, COPY into PostgreSQL."""

from __future__ import annotations

from runtime.plugin import Plugin

from .spec import DbSource, DbTarget


def _source(spec, ctx):
    from .source import TableSource

    return TableSource(spec, ctx)


def _target(spec, ctx):
    from .target import TableTarget

    return TableTarget(spec, ctx)


plugin = Plugin(
    type="db",
    description="Replicate tables or queries between databases; COPY for PostgreSQL targets.",
    source_spec=DbSource,
    target_spec=DbTarget,
    create_source=_source,
    create_target=_target,
)
