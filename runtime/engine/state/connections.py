"""The state database through its own driver, for the statements every run makes.

Why not SQLAlchemy here: importing it costs ~110 ms of every ``koppel run`` (issue 15: a whole
incremental run of interface 0 is ~0.5 s), and the run's statements (its row, the lease, the
cursor, the ledger, the counts) are a dozen fixed texts that gain nothing from a query builder.
SQLAlchemy stays for what is not on that path (migrations, the console, retention, listing dead
letters): ``StateStore.engine`` is made the first time one of those asks.

Two kinds of connection, one behaviour:

- ``SQLiteFile`` and ``PostgreSQL``, for the two URLs the state database takes in practice: a
  SQLite file (``sqlite:///path``) through ``sqlite3``, and ``postgresql+psycopg://`` (a plain
  ``postgresql://`` is read as such, as runtime/sis/schema.py reads it) through psycopg. Set up
  as ``create_engine`` set them up: WAL, ``synchronous=NORMAL`` and a 30 s busy timeout on
  SQLite; on PostgreSQL an idle connection is tried with ``SELECT 1`` before it is used again,
  as ``pool_pre_ping`` did, so a server restarted between two runs fails neither of them.
- ``EngineConnections`` for any other URL (an in-memory SQLite, another driver, query options):
  the DB-API connections of SQLAlchemy's own pool, so the same statements run there too.

Each hands out one DB-API connection per transaction from a small pool (a thread takes one and
gives it back after), and keeps the driver's own transaction rules: sqlite3 opens a transaction
before the first write, psycopg before the first statement; ``begin`` commits at the end,
``read`` rolls back, and either rolls back when the block raises.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

#: idle connections kept per store (``create_engine``'s ``pool_size`` was 10)
POOL_SIZE = 10


class Transaction:
    """One transaction's cursor; statements are written with ``?`` marks for every dialect."""

    def __init__(self, cursor: Any, dialect: str) -> None:
        self.cursor, self.dialect = cursor, dialect

    def _sql(self, sql: str) -> str:
        return sql if self.dialect == "sqlite" else sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self.cursor.execute(self._sql(sql), tuple(params))
        return self.cursor

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cursor.executemany(self._sql(sql), rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.execute(sql, params).fetchall()


class Connections:
    """A pool of DB-API connections to one state database."""

    dialect: str
    #: the driver's IntegrityError (a unique key already taken)
    IntegrityError: type[Exception]

    def __init__(self) -> None:
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    # -- what a kind of connection decides --------------------------------------------------

    def _connect(self) -> Any:
        raise NotImplementedError

    def _usable(self, connection: Any) -> bool:
        """An idle connection may be handed out again."""
        return True

    def _broken(self, connection: Any) -> bool:
        """After an error: the connection itself is gone (do not keep it)."""
        return False

    def _discard(self, connection: Any) -> None:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - a broken connection: nothing left to close
            pass

    # -- the pool ---------------------------------------------------------------------------

    def _take(self) -> Any:
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return self._connect()
            if self._usable(connection):
                return connection
            self._discard(connection)

    def _give_back(self, connection: Any) -> None:
        with self._lock:
            if len(self._idle) < POOL_SIZE:
                self._idle.append(connection)
                return
        self._discard(connection)

    def begin(self) -> AbstractContextManager[Transaction]:
        """A transaction: committed when the block ends, rolled back when it raises."""
        return self._transaction(commit=True)

    def read(self) -> AbstractContextManager[Transaction]:
        """Statements that only read: rolled back at the end, as a pool resets a connection."""
        return self._transaction(commit=False)

    @contextmanager
    def _transaction(self, *, commit: bool) -> Iterator[Transaction]:
        connection = self._take()
        try:
            cursor = connection.cursor()
            try:
                yield Transaction(cursor, self.dialect)
            finally:
                cursor.close()
            if commit:
                connection.commit()
            else:
                connection.rollback()
        except BaseException:
            self._end_failed(connection)
            raise
        self._give_back(connection)

    def _end_failed(self, connection: Any) -> None:
        try:
            connection.rollback()
        except Exception:  # noqa: BLE001 - the connection went with the error
            self._discard(connection)
            return
        if self._broken(connection):
            self._discard(connection)
        else:
            self._give_back(connection)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            self._discard(connection)


class SQLiteFile(Connections):
    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        import sqlite3

        super().__init__()
        self.path = path
        self.IntegrityError = sqlite3.IntegrityError

    def _connect(self) -> Any:
        import sqlite3

        # as create_engine made them: shared between threads (one at a time, through the pool),
        # a busy writer waited for up to 30 s, WAL so that readers never wait for it
        connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout=30000")  # as timeout=30; first, for the WAL switch's lock
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection


class PostgreSQL(Connections):
    dialect = "postgresql"

    def __init__(self, conninfo: str) -> None:
        import psycopg

        super().__init__()
        self.conninfo = conninfo
        self.IntegrityError = psycopg.IntegrityError

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.conninfo)

    def _usable(self, connection: Any) -> bool:
        # pool_pre_ping's check: a server restarted (or a connection it ended) since the last use
        # shows here, not in the caller's first statement
        if connection.closed or connection.broken:
            return False
        try:
            connection.execute("SELECT 1")
        except Exception:  # noqa: BLE001 - any failure: a new connection is made instead
            return False
        return True

    def _broken(self, connection: Any) -> bool:
        return bool(connection.closed or connection.broken)


class EngineConnections(Connections):
    """The DB-API connections of a SQLAlchemy engine's pool (its pre-ping and set-up included)."""

    def __init__(self, engine: Any) -> None:
        super().__init__()
        self.engine = engine
        self.dialect = engine.dialect.name
        self.IntegrityError = engine.dialect.dbapi.IntegrityError

    def _take(self) -> Any:
        return self.engine.raw_connection()

    def _give_back(self, connection: Any) -> None:
        connection.close()  # back to the engine's pool

    def _end_failed(self, connection: Any) -> None:
        try:
            connection.rollback()
        except Exception:  # noqa: BLE001 - gone with the error: the pool makes a new one
            connection.invalidate()
            return
        connection.close()

    def close(self) -> None:
        pass  # the engine's pool is disposed with the engine


def driver_connections(url: str) -> Connections | None:
    """Connections through the driver itself for the URLs it can take as they are; None for any
    other (the caller uses its SQLAlchemy engine's)."""
    scheme, _, rest = url.partition("://")
    if scheme in ("sqlite", "sqlite+pysqlite"):
        path = rest[1:] if rest.startswith("/") else ""
        if path and "?" not in path and path != ":memory:":
            return SQLiteFile(path)
        return None
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):  # psycopg: the driver Koppel ships
        if "?" in rest:  # query options may be SQLAlchemy's own, not libpq's
            return None
        return PostgreSQL("postgresql://" + rest)
    return None
