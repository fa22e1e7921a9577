"""Fixtures for the db plugin: a PostgreSQL database of our own, contexts, and a tiny engine loop."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from runtime.models.catalog import SystemEnvironment
from runtime.plugin import Item, PluginContext
from tests import pgdb



@pytest.fixture(scope="session")
def pg_url():
    """A fresh database on the machine's PostgreSQL (unique name; dropped afterwards)."""
    yield from pgdb.fresh("db")


@pytest.fixture()
def pg_schema(pg_url):
    """A unique schema name per test, so tests share the database but not tables."""
    return f"t_{uuid.uuid4().hex[:8]}"


def context(root: Path, dsn: str | None, *, name: str = "db", batch_size: int = 100, options=None) -> PluginContext:
    system = SystemEnvironment(dsn=dsn, options=options or {}) if dsn else None
    return PluginContext(environment="sandbox", project_root=root, system_name=name, system=system,
                         options={"batch_size": batch_size})


def replicate(source, target, cursor: str | None = None):
    """What the engine does with a replication interface: read, write, store the cursor, commit."""
    outcomes = []
    source.open()
    target.open()
    try:
        for batch in source.read(cursor):
            items = [Item(key=r.key, payload=r.data, source_key=r.key, operation=r.operation, object=r.object)
                     for r in batch.records]
            outcomes += target.write(items)
            if batch.cursor is not None:
                cursor = batch.cursor
            source.commit(batch)
    finally:
        target.close()
        source.close()
    return cursor, outcomes
