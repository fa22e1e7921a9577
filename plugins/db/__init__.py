"""Database replication: incremental or full, upsert by key, deletes, COPY into PostgreSQL."""

from __future__ import annotations

from runtime.plugin import Plugin, lazy

from .spec import DbSource, DbTarget

plugin = Plugin(
    type="db",
    description="Replicate tables or queries between databases; COPY for PostgreSQL targets.",
    source_spec=DbSource,
    target_spec=DbTarget,
    create_source=lazy("plugins.db.source:TableSource"),
    create_target=lazy("plugins.db.target:TableTarget"),
)
