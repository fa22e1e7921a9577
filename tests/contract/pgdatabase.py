"""A PostgreSQL database of the test session's own on 127.0.0.1:5432 (other developers test on the
same server at the same time), dropped afterwards, that can be made to refuse connections."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest

ADMIN = os.environ.get("KOPPEL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


class PgDatabase:
    def __init__(self, area: str) -> None:
        self.name = f"koppel_contract_{area}_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    def __enter__(self) -> PgDatabase:
        try:
            self._admin(f'CREATE DATABASE "{self.name}"')
        except Exception as exc:  # no server: the suite says so instead of failing
            pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432 ({type(exc).__name__})")
        return self

    def __exit__(self, *exc) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    @property
    def url(self) -> str:
        return f"{ADMIN.rsplit('/', 1)[0]}/{self.name}".replace("postgresql://", "postgresql+psycopg://", 1)

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """The database refuses new connections and its open ones are cut, as in an outage."""
        self._admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        self._admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (self.name,))
        try:
            yield
        finally:
            self._admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')

    @staticmethod
    def _admin(sql: str, params: tuple = ()) -> None:
        import psycopg

        with psycopg.connect(ADMIN, autocommit=True, connect_timeout=3) as admin:
            admin.execute(sql, params)
