"""Fixtures of the boundary tests: a fresh database on SQLite and on PostgreSQL.

PostgreSQL databases get random names (other developers test against the same server) and are
dropped afterwards; without a server on 127.0.0.1:5432 the postgres half skips, saying so.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from tests import pgdb

# the project root first: tests/plugins (a folder of tests) must not shadow the plugins package
_ROOT = str(Path(__file__).resolve().parents[2])
if sys.path[0] != _ROOT:
    sys.path.insert(0, _ROOT)

PG_ADMIN = pgdb.ADMIN
pg_admin = pgdb.admin  # an autocommit connection to the server's maintenance database


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_url(request, tmp_path_factory) -> str:
    """A SQLAlchemy URL of a database of this test module; the PostgreSQL one is dropped after it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'boundary.db'}"
        return
    yield from pgdb.fresh("boundary")


class _SisTemplates:
    """One migrated, empty SIS store per engine per session; each test gets a fresh copy."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sqlite: Path | None = None
        self.pg: str | None = None
        self.created: list[str] = []

    def sqlite_copy(self, target: Path) -> str:
        import shutil

        from runtime.sis import schema

        if self.sqlite is None:
            self.sqlite = self.root / "sis-template.db"
            schema.init(f"sqlite:///{self.sqlite}")
        shutil.copy(self.sqlite, target)
        return f"sqlite:///{target}"

    def pg_copy(self, admin) -> str:
        from runtime.sis import schema

        if self.pg is None:
            self.pg = f"koppel_boundary_tpl_{uuid.uuid4().hex[:8]}"
            admin.execute(f'CREATE DATABASE "{self.pg}"')
            self.created.append(self.pg)
            schema.init(_pg_url(self.pg))
            schema.engine(_pg_url(self.pg)).dispose()
        name = f"koppel_boundary_{uuid.uuid4().hex[:12]}"
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.pg}"')
        self.created.append(name)
        return _pg_url(name)


def _pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name


@pytest.fixture(scope="session")
def _sis_templates(tmp_path_factory):
    templates = _SisTemplates(tmp_path_factory.mktemp("sis"))
    yield templates
    for name in reversed(templates.created):
        pgdb.drop_later(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def sis_url(request, tmp_path, _sis_templates) -> str:
    """The URL of a fresh, empty, migrated SIS store (with its outbox triggers)."""
    if request.param == "sqlite":
        yield _sis_templates.sqlite_copy(tmp_path / "sis.db")
        return
    try:
        admin = pg_admin()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432 ({type(exc).__name__})")
    with admin:
        url = _sis_templates.pg_copy(admin)
    yield url
    name = url.rsplit("/", 1)[1]  # this copy goes now; the template stays for the next test
    _sis_templates.created.remove(name)
    pgdb.drop_later(name)
