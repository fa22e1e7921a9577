"""A database of our own on the machine's PostgreSQL, reached through a TCP fault proxy."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from proxy import TcpFaultProxy

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


_TEMPLATES: dict[str, str] = {}


def sis_template() -> str:
    """One database with the SIS schema per test process (migrations take seconds), copied for
    each example; dropped at exit."""
    if "sis" not in _TEMPLATES:
        import atexit

        import psycopg

        from runtime.sis import schema

        name = f"koppel_faults_{os.getpid()}_sis_template"
        with psycopg.connect(ADMIN, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        schema.init(url(name))
        _TEMPLATES["sis"] = name

        def drop() -> None:
            with psycopg.connect(ADMIN, autocommit=True, connect_timeout=3) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        atexit.register(drop)
    return _TEMPLATES["sis"]


@contextmanager
def database(template: str | None = None) -> Iterator[str]:
    """A fresh database (a copy of ``template``); yields its name, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    name = f"koppel_faults_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def url(name: str, port: int = 5432) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{name}"


def proxied(rate: float, seed: int, kinds=("reset", "delay")) -> TcpFaultProxy:
    """A proxy in front of the main server: per query, at random, a reset connection or a delay."""
    return TcpFaultProxy(("127.0.0.1", 5432), rate=rate, kinds=kinds, delay=0.05, seed=seed)
