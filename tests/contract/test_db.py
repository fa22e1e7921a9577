"""Contract cases of the ``db`` plugin on the machine's PostgreSQL (a database of its own, dropped
afterwards), plus a SQLite source as the sandbox SIS store is. A transient failure is the database
refusing connections and its open connections terminated (``ALLOW_CONNECTIONS false``)."""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import tempfile
import uuid
from pathlib import Path

import pytest

from plugins.db import plugin
from runtime.models.catalog import SystemEnvironment
from runtime.plugin import Item, PluginContext

from .framework import SourceContract, SourceHarness, TargetContract, TargetHarness, Unsupported

ROOT = Path(__file__).resolve().parents[2]
ADMIN = os.environ.get("KOPPEL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


class PgPeer:
    def __init__(self) -> None:
        self.name = f"koppel_contract_db_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    def __enter__(self):
        try:
            import psycopg

            with psycopg.connect(ADMIN, autocommit=True, connect_timeout=3) as admin:
                admin.execute(f'CREATE DATABASE "{self.name}"')
        except Exception as exc:  # no server: the suite says so instead of failing
            pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432 ({type(exc).__name__})")
        return self

    def __exit__(self, *exc) -> None:
        import psycopg

        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.name}"

    def execute(self, sql: str, params=()) -> list:
        import psycopg

        with psycopg.connect(self.url.replace("+psycopg", ""), autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    @contextlib.contextmanager
    def down(self):
        import psycopg

        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (self.name,))
        try:
            yield
        finally:
            with psycopg.connect(ADMIN, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')


def _context(dsn: str, batch_size: int) -> PluginContext:
    return PluginContext(environment="sandbox", project_root=ROOT, system_name="peer",
                         system=SystemEnvironment(dsn=dsn), options={"batch_size": batch_size})


_SOURCE_SPEC = {"type": "db", "system": "peer", "mode": "incremental",
                "tables": [{"name": "student", "key": ["student_number"], "watermark": "updated_at"}]}


class PgSourceHarness(SourceHarness):
    batch_size = 3
    resumable = True

    def __init__(self) -> None:
        self.peer = PgPeer()
        self.numbers = itertools.count(1)

    def __enter__(self):
        self.peer.__enter__()
        self.peer.execute("CREATE TABLE student (student_number TEXT PRIMARY KEY, name TEXT, "
                          "updated_at TIMESTAMPTZ NOT NULL)")
        return self

    def __exit__(self, *exc) -> None:
        self.peer.__exit__()

    def make_source(self):
        return plugin.create_source(plugin.source_spec.model_validate(_SOURCE_SPEC),
                                    _context(self.peer.url, self.batch_size))

    def seed(self, count: int) -> list[str]:
        keys = [f"S{next(self.numbers):05}" for _ in range(count)]
        for key in keys:  # a later watermark for every new row, as a database clock gives
            self.peer.execute("INSERT INTO student VALUES (%s, 'Naam', clock_timestamp())", (key,))
        return keys

    def reset(self) -> None:
        self.peer.execute("DELETE FROM student")

    def transient_failure(self):
        return self.peer.down()


class SqliteSourceHarness(SourceHarness):
    """The sandbox's embedded SIS store is SQLite; an embedded file does not fail transiently."""

    batch_size = 3
    resumable = True

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="koppel-contract-db-")) / "sis.db"
        self.numbers = itertools.count(1)

    def __enter__(self):
        with sqlite3.connect(self.path) as db:
            db.execute("CREATE TABLE student (student_number TEXT PRIMARY KEY, name TEXT, updated_at DATETIME)")
        return self

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)

    def make_source(self):
        return plugin.create_source(plugin.source_spec.model_validate(_SOURCE_SPEC),
                                    _context(f"sqlite:///{self.path}", self.batch_size))

    def seed(self, count: int) -> list[str]:
        keys = [f"S{next(self.numbers):05}" for _ in range(count)]
        with sqlite3.connect(self.path) as db:
            for key in keys:
                db.execute("INSERT INTO student VALUES (?, 'Naam', strftime('%Y-%m-%d %H:%M:%f', 'now'))", (key,))
        return keys

    def reset(self) -> None:
        with sqlite3.connect(self.path) as db:
            db.execute("DELETE FROM student")

    def transient_failure(self):
        # Said, not left to the framework's default: the source opens its connection before the
        # fault starts, a WAL reader is never blocked by a writer, and an open connection keeps
        # reading its file when the file is moved or replaced. The same plugin's outage cases run
        # against PostgreSQL (TestDbPostgresSource), where the server is stopped.
        raise Unsupported("an open SQLite file has no outage a WAL reader can see; the PostgreSQL cases cover it")


class PgTargetHarness(TargetHarness):
    def __init__(self) -> None:
        self.peer = PgPeer()
        self.numbers = itertools.count(1)

    def __enter__(self):
        self.peer.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.peer.__exit__()

    def make_target(self):
        spec = plugin.target_spec.model_validate({"type": "db", "system": "peer", "schema": "datalaag",
                                                  "keys": {"student": ["student_number"]}})
        return plugin.create_target(spec, _context(self.peer.url, 10))

    def items(self, count: int) -> list[Item]:
        keys = [f"S{next(self.numbers):05}" for _ in range(count)]
        return [Item(key=k, payload={"student_number": k, "credits": 10}, source_key=k, object="student")
                for k in keys]

    def rejected_item(self) -> Item:
        return Item(key="SBAD", payload={"student_number": "SBAD", "credits": 10**30}, source_key="SBAD",
                    object="student")  # out of BIGINT range: the database refuses this row

    def delivered_keys(self) -> list[str]:
        try:
            return [r[0] for r in self.peer.execute("SELECT student_number FROM datalaag.student")]
        except Exception as exc:
            raise Unsupported(f"no table yet ({type(exc).__name__})") from None

    def reset(self) -> None:
        self.peer.execute("DROP SCHEMA IF EXISTS datalaag CASCADE")

    def transient_failure(self):
        return self.peer.down()


pytestmark = pytest.mark.postgres


class TestDbPostgresSource(SourceContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls):
        with PgSourceHarness() as harness:
            yield harness


class TestDbSqliteSource(SourceContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls):
        with SqliteSourceHarness() as harness:
            yield harness


class TestDbPostgresTarget(TargetContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls):
        with PgTargetHarness() as harness:
            yield harness
