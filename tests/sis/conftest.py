"""Fixtures: every test of this suite runs on SQLite and on PostgreSQL.

``store`` is an empty, migrated SIS store; ``seeded`` one holding a small synthetic college
(300 students, seed 5). Each is a fresh copy per test, made from a template built once per
session: a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL. The PostgreSQL
databases carry the session's pid in their names (other developers test against the same
server) and are dropped after their test, in the background (tests/pgdb.py). Without a PostgreSQL server the postgres half is skipped.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests import pgdb

PG_ADMIN = pgdb.ADMIN
SEED_STUDENTS = 300
SEED = 5


@dataclass
class Store:
    url: str  # SQLAlchemy URL
    engine_name: str  # sqlite | postgresql
    path: str | None = None  # the SQLite file
    dbname: str | None = None  # the PostgreSQL database

    def connect(self):  # noqa: ANN201
        """A plain driver connection: 'another client', not Koppel."""
        if self.engine_name == "sqlite":
            import sqlite3

            connection = sqlite3.connect(self.path, isolation_level=None)
            connection.execute("PRAGMA foreign_keys=ON")
            return connection
        import psycopg

        return psycopg.connect(_conninfo(self.dbname), autocommit=True)

    def sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        """Run one statement as another client (``?`` placeholders on both engines)."""
        connection = self.connect()
        try:
            if self.engine_name == "postgresql":
                statement = statement.replace("?", "%s")
            cursor = connection.execute(statement, params)
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            connection.close()


def _conninfo(dbname: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + dbname


class _Templates:
    def __init__(self, tmp_root) -> None:  # noqa: ANN001
        self.tmp_root = tmp_root
        self.sqlite: dict[str, str] = {}
        self.pg: dict[str, str] = {}
        self.pg_prefix = f"koppel_sis_{os.getpid()}"
        self.pg_created: list[str] = []

    def sqlite_template(self, kind: str) -> str:
        if kind not in self.sqlite:
            from runtime.sis import schema
            from runtime.sis.seed import seed_store

            path = str(self.tmp_root / f"template_{kind}.db")
            url = f"sqlite:///{path}"
            schema.init(url)
            if kind == "seeded":
                seed_store(url, students=SEED_STUDENTS, seed=SEED)
            _sqlite_checkpoint(path)
            self.sqlite[kind] = path
        return self.sqlite[kind]

    def pg_template(self, kind: str) -> str:
        if kind not in self.pg:
            from runtime.sis import schema
            from runtime.sis.seed import seed_store

            name = f"{self.pg_prefix}_tpl_{kind}"
            with pgdb.admin() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
                admin.execute(f'CREATE DATABASE "{name}"')
            self.pg_created.append(name)
            url = "postgresql+psycopg://" + _conninfo(name).split("://", 1)[1]
            schema.init(url)
            if kind == "seeded":
                seed_store(url, students=SEED_STUDENTS, seed=SEED)
            self.pg[kind] = name
        return self.pg[kind]

    def drop_all(self) -> None:
        for name in self.pg_created:
            pgdb.drop_later(name)


def _sqlite_checkpoint(path: str) -> None:
    import sqlite3

    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


@pytest.fixture(scope="session")
def _templates(tmp_path_factory) -> Iterator[_Templates]:  # noqa: ANN001
    templates = _Templates(tmp_path_factory.mktemp("sis_templates"))
    yield templates
    templates.drop_all()



ENGINES = [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)]


def _make_store(request, templates: _Templates, kind: str, tmp_path) -> Iterator[Store]:  # noqa: ANN001
    engine_name = request.param
    if engine_name == "sqlite":
        path = str(tmp_path / f"sis_{kind}.db")
        shutil.copyfile(templates.sqlite_template(kind), path)
        yield Store(url=f"sqlite:///{path}", engine_name="sqlite", path=path)
        return
    if not pgdb.available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 (set KOPPEL_TEST_PG)")
    template = templates.pg_template(kind)
    name = f"{templates.pg_prefix}_{uuid.uuid4().hex[:10]}"
    with pgdb.admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield Store(url="postgresql+psycopg://" + _conninfo(name).split("://", 1)[1], engine_name="postgresql", dbname=name)
    finally:
        pgdb.drop_later(name)  # in the background: a drop waits on a checkpoint (tests/pgdb.py)


@pytest.fixture(params=ENGINES)
def store(request, _templates, tmp_path) -> Iterator[Store]:  # noqa: ANN001
    yield from _make_store(request, _templates, "empty", tmp_path)


@pytest.fixture(params=ENGINES)
def seeded(request, _templates, tmp_path) -> Iterator[Store]:  # noqa: ANN001
    yield from _make_store(request, _templates, "seeded", tmp_path)

