"""Contract cases of the ``sis`` plugin against a real SIS store (``runtime.sis.schema.init``), on
SQLite (as the sandbox has it) and on PostgreSQL (a database of this session's own, dropped
afterwards). Source: outbox mode on ``person``. Target: upsert of ``person``; a gender outside
M/V/O breaks the table's check constraint. A transient failure is PostgreSQL refusing connections
and cutting the open ones; an embedded SQLite file has no such failure.

Outbox mode starts a new interface at the current end of the outbox (no replay of history), so
``read(None)`` on a store that already holds records yields none of them. The contract reads
"no cursor" as "records added since the source first looked", so the harness makes that first
run itself in ``reset()`` (checking that it yields nothing) and hands its cursor to the source
wherever the contract passes ``None``: what the engine does once an interface has run.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugins.sis import plugin
from runtime.plugin import Batch, Item, PluginContext, Source

from .framework import SourceContract, SourceHarness, TargetContract, TargetHarness, Unsupported, opened
from .pgdatabase import PgDatabase

ROOT = Path(__file__).resolve().parents[2]
BATCH = 3


class Store:
    """A migrated SIS store; ``pg`` is set on PostgreSQL (it can be taken down)."""

    def __init__(self, url: str, pg: PgDatabase | None = None) -> None:
        from runtime.sis import schema

        schema.init(url)
        self.url, self.pg = url, pg
        self.engine = schema.engine(url)
        self.numbers = itertools.count(1)

    def sql(self, statement: str, rows: list[dict] | None = None) -> list:
        from sqlalchemy import text

        with self.engine.begin() as connection:
            result = connection.execute(text(statement), rows or {})
            return result.all() if result.returns_rows else []

    def new_keys(self, count: int) -> list[str]:
        return [f"P{next(self.numbers):06}" for _ in range(count)]

    def down(self):
        if self.pg is None:
            raise Unsupported("an embedded SQLite store does not fail transiently")
        return self.pg.down()

    def context(self) -> PluginContext:
        return PluginContext(environment="sandbox", project_root=ROOT, options={"batch_size": BATCH, "sis_url": self.url})


class AfterFirstRun(Source):
    """The plugin's source, reading from the first run's cursor where the contract passes None."""

    def __init__(self, source: Source, first_cursor: str) -> None:
        self.source, self.first_cursor = source, first_cursor

    def open(self) -> None:
        self.source.open()

    def read(self, cursor: str | None) -> Iterator[Batch]:
        return self.source.read(self.first_cursor if cursor is None else cursor)

    def commit(self, batch: Batch) -> None:
        self.source.commit(batch)

    def close(self) -> None:
        self.source.close()


class SisSourceHarness(SourceHarness):
    batch_size = BATCH
    resumable = True

    def __init__(self, store: Store) -> None:
        self.store = store
        self.first_cursor: str | None = None

    def _plugin_source(self) -> Source:
        spec = plugin.source_spec.model_validate({"type": "sis", "object": "person", "mode": "outbox"})
        return plugin.create_source(spec, self.store.context())

    def make_source(self) -> Source:
        return AfterFirstRun(self._plugin_source(), self.first_cursor)

    def seed(self, count: int) -> list[str]:
        keys = self.store.new_keys(count)
        for key in keys:  # one statement each: one outbox change each, as separate SIS edits are
            self.store.sql("INSERT INTO person (person_number, last_name) VALUES (:k, 'Jansen')", [{"k": key}])
        return keys

    def reset(self) -> None:
        self.store.sql("DELETE FROM person")
        with opened(self._plugin_source()) as source:
            batches = list(source.read(None))
        assert [r for b in batches for r in b.records] == [], "a new outbox interface replayed history"
        assert batches and batches[-1].cursor, "the first run must store its position in the outbox"
        self.first_cursor = batches[-1].cursor

    def transient_failure(self):
        return self.store.down()


class SisTargetHarness(TargetHarness):
    def __init__(self, store: Store) -> None:
        self.store = store

    def make_target(self):
        spec = plugin.target_spec.model_validate({"type": "sis", "system": "sis", "object": "person"})
        return plugin.create_target(spec, self.store.context())

    def items(self, count: int) -> list[Item]:
        return [Item(key=k, payload={"person_number": k, "last_name": "Jansen", "gender": "V"}, source_key=k,
                     object="person") for k in self.store.new_keys(count)]

    def rejected_item(self) -> Item:
        key = self.store.new_keys(1)[0]  # gender must be M, V or O: the store's check constraint
        return Item(key=key, payload={"person_number": key, "last_name": "Jansen", "gender": "X"}, source_key=key,
                    object="person")

    def delivered_keys(self) -> list[str]:
        return [row[0] for row in self.store.sql("SELECT person_number FROM person")]

    def reset(self) -> None:
        self.store.sql("DELETE FROM person")

    def transient_failure(self):
        return self.store.down()


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('contract-sis') / 'sis.db'}")
    yield store
    store.engine.dispose()


@pytest.fixture(scope="module")
def pg_store() -> Iterator[Store]:
    with PgDatabase("sis") as pg:
        store = Store(pg.url, pg)
        yield store
        store.engine.dispose()


class TestSisSqliteSource(SourceContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls, sqlite_store):
        return SisSourceHarness(sqlite_store)


class TestSisSqliteTarget(TargetContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls, sqlite_store):
        return SisTargetHarness(sqlite_store)


@pytest.mark.postgres
class TestSisPostgresSource(SourceContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls, pg_store):
        return SisSourceHarness(pg_store)


@pytest.mark.postgres
class TestSisPostgresTarget(TargetContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls, pg_store):
        return SisTargetHarness(pg_store)
