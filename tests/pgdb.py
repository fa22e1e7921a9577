"""Throwaway databases on the machine's PostgreSQL (127.0.0.1:5432, or ``KOPPEL_TEST_PG``), the one
place the tests make and drop them.

Other developers test against the same server at the same time, so every name carries the
session's pid and a random part. A database is dropped after its test, but not by the test: on
PostgreSQL 15 ``DROP DATABASE`` forces a checkpoint, which on a busy shared server takes seconds,
and a suite of a few hundred PostgreSQL cases spent minutes of its run waiting on them. The drops
go to one background thread instead (``drop_later``); the session waits for it at its end
(``drain``, called from tests/conftest.py), so nothing is left behind either way.

    @pytest.fixture
    def pg_url():
        yield from pgdb.fresh("engine")     # a SQLAlchemy URL; skips without a server
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest

ADMIN = os.environ.get("KOPPEL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

_available: bool | None = None


def admin():  # noqa: ANN201 - a psycopg connection; psycopg is imported lazily
    """An autocommit connection to the server's maintenance database."""
    import psycopg

    return psycopg.connect(ADMIN, autocommit=True, connect_timeout=3)


def available() -> bool:
    """Whether a server answers (asked once per session)."""
    global _available
    if _available is None:
        try:
            with admin():
                _available = True
        except Exception:  # noqa: BLE001 - any failure means: no server to test against
            _available = False
    return _available


def require() -> None:
    """Skip the calling test, saying why, when there is no server (or no driver)."""
    pytest.importorskip("psycopg")
    if not available():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 (set KOPPEL_TEST_PG)")


def conninfo(name: str) -> str:
    """A libpq URL of database ``name`` (for psycopg)."""
    return ADMIN.rsplit("/", 1)[0] + "/" + name


def url(name: str) -> str:
    """A SQLAlchemy URL of database ``name`` (psycopg 3 driver)."""
    return conninfo(name).replace("postgresql://", "postgresql+psycopg://", 1)


def unique_name(prefix: str) -> str:
    return f"koppel_{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def create(prefix: str, template: str | None = None) -> str:
    """A new database (a copy of ``template`` when given); its name. Skips without a server."""
    require()
    name = unique_name(prefix)
    with admin() as connection:
        connection.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name


@contextlib.contextmanager
def database(prefix: str, template: str | None = None) -> Iterator[str]:
    """The SQLAlchemy URL of a new database, dropped (later) when the block ends."""
    name = create(prefix, template)
    try:
        yield url(name)
    finally:
        drop_later(name)


def fresh(prefix: str, template: str | None = None) -> Iterator[str]:
    """For a fixture (``yield from pgdb.fresh("area")``): ``database`` as a generator."""
    with database(prefix, template) as made:
        yield made


def state_url(engine: str, tmp_path, prefix: str) -> Iterator[str]:
    """For a fixture parametrised over ``sqlite`` and ``postgresql``: a state database URL of
    that engine (``yield from pgdb.state_url(request.param, tmp_path, "area")``)."""
    if engine == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    yield from fresh(prefix)


_pending: list[str] = []
_failed: list[str] = []
#: dropped together once this many wait: one checkpoint serves all the drops asked for at once
BATCH = 24


def drop_later(name: str) -> None:
    """Drop database ``name`` with the next batch (see the module docstring)."""
    _pending.append(name)


def drop_now(name: str) -> None:
    with admin() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _drop(name: str) -> None:
    try:
        drop_now(name)  # FORCE: a pool the test left open must not keep its database alive
    except Exception as exc:  # noqa: BLE001 - report at the end, drop the others regardless
        _failed.append(f"{name}: {type(exc).__name__}: {exc}")


def flush(at_least: int = 1) -> None:
    """Drop the waiting databases, all at once on parallel connections, when ``at_least`` wait.

    Called between tests (tests/conftest.py), never during one: a DROP DATABASE holds a
    transaction open while it waits on its checkpoint, which holds back the server's oldest
    snapshot, and the outbox tests wait on that horizon."""
    if len(_pending) < at_least:
        return
    from concurrent.futures import ThreadPoolExecutor

    names = _pending[:]
    del _pending[:]
    with ThreadPoolExecutor(max_workers=min(len(names), BATCH)) as pool:
        list(pool.map(_drop, names))


def drain() -> list[str]:
    """Drop every database still waiting; the drops that failed."""
    flush()
    return list(_failed)
