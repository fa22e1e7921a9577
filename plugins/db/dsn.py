"""Which database a db source or target talks to, and how it connects.

- The DSN is ``ctx.system.dsn``; the ``sis`` system (and a spec without a system) falls back to
  ``runtime.settings.sis_url`` (``KOPPEL_SIS_URL``, default the embedded SQLite store).
- A password is written as ``${env:NAME}`` (or ``${file:PATH}``) inside the DSN; it is resolved
  here, URL-quoted, and registered with ``runtime.redact`` so it is masked everywhere.
- ``sqlite:///var/datalaag.db`` (three slashes, a relative path) is relative to the project root.

Connections (``connect``): the db plugin talks to the driver itself, psycopg for
``postgresql+psycopg://`` and sqlite3 for a plain ``sqlite:///file``, without a SQLAlchemy engine:
no dialect to import, no first-connect queries, no pool (a source or target holds one connection).
Other DSNs (another driver, URL query options on SQLite) still go through a SQLAlchemy engine.

Schemas on SQLite: SQLite has no schemas, but it can ATTACH another database file under a name,
after which ``mip.student`` works exactly as on PostgreSQL. So a target schema ``mip`` on
``sqlite:///var/datalaag.db`` is the file ``var/datalaag.mip.db`` attached as ``mip`` on every
connection. Views are created inside that schema and must name their tables without a schema
(``SELECT ... FROM student``), which then means the same on both engines.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from runtime import secrets, settings
from runtime.errors import ConfigError

_REFERENCE = re.compile(r"\$\{(?:env|file):[^}\s]+\}")


def resolve_dsn(ctx: Any) -> str:
    """The DSN of ``ctx.system`` with secrets substituted and SQLite paths made absolute."""
    root = Path(ctx.project_root)
    dsn = ctx.system.dsn if ctx.system is not None and ctx.system.dsn else None
    if dsn is None:
        if ctx.system_name not in (None, "sis"):
            raise ConfigError(f"system {ctx.system_name} ({ctx.environment}) has no dsn for the db plugin")
        dsn = settings.sis_url(root)
    dsn = _REFERENCE.sub(lambda m: quote(secrets.resolve(m.group(0), base=root), safe=""), dsn)
    return absolute_sqlite(dsn, root)


def absolute_sqlite(dsn: str, root: Path) -> str:
    prefix, _, rest = dsn.partition(":///")
    if prefix.split("+")[0] == "sqlite" and rest and not rest.startswith("/") and rest != ":memory:":
        return f"{prefix}:///{root / rest}"
    return dsn


def is_sqlite(dsn: str) -> bool:
    return dsn.split(":", 1)[0].split("+")[0] == "sqlite"


def sqlite_path(dsn: str) -> Path:
    return Path(dsn.partition(":///")[2].split("?")[0])


def schema_file(dsn: str, schema: str) -> Path:
    """Where a SQLite 'schema' lives: ``<db>.<schema>.db`` beside the main database file."""
    main = sqlite_path(dsn)
    return main.with_name(f"{main.stem}.{schema}{main.suffix or '.db'}")


def create_engine(dsn: str, *, attach: list[str] | tuple[str, ...] = ()):
    """A SQLAlchemy engine; on SQLite with WAL, a busy timeout, and ``attach`` schemas attached."""
    import sqlalchemy

    if not is_sqlite(dsn):
        return sqlalchemy.create_engine(dsn, pool_pre_ping=True)
    sqlite_path(dsn).parent.mkdir(parents=True, exist_ok=True)
    engine = sqlalchemy.create_engine(dsn, connect_args={"timeout": 30})
    files = {name: schema_file(dsn, name) for name in attach}

    @sqlalchemy.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - exercised through the engine
        _wal_and_schemas(dbapi_connection, files)

    return engine


def _wal_and_schemas(raw: Any, files: dict[str, Path]) -> None:
    """A new SQLite connection: WAL, and each schema's file attached under its name (in WAL too)."""
    cursor = raw.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    for name, path in files.items():
        cursor.execute("ATTACH DATABASE ? AS " + quote_identifier(name), (str(path),))
        cursor.execute(f"PRAGMA {quote_identifier(name)}.journal_mode=WAL")
    cursor.close()


class Connection:
    """One DBAPI connection of a db source or target, and which dialect it speaks."""

    def __init__(self, raw: Any, dialect: str, engine: Any = None) -> None:
        self.raw, self.dialect, self._engine = raw, dialect, engine

    def close(self) -> None:
        """Close it, quietly when it is already broken (its transaction, if any, rolls back)."""
        raw, engine, self.raw, self._engine = self.raw, self._engine, None, None
        try:
            if raw is not None:
                raw.close()
        except Exception:  # noqa: BLE001 - a broken connection: nothing left to close
            pass
        if engine is not None:
            engine.dispose()


def connect(dsn: str, what: str, *, attach: list[str] | tuple[str, ...] = ()) -> Connection:
    """A connection to ``dsn`` (see the module docstring); failures to connect are sorted into
    the error taxonomy by ``connection_error`` (``what`` names the source or target)."""
    scheme, _, rest = dsn.partition("://")
    try:
        if scheme == "postgresql+psycopg":
            if "psycopg" not in sys.modules:  # the first connection imports the driver
                from runtime.gcpause import paused_gc

                with paused_gc(freeze=True):  # many objects, none of them garbage, ever (gcpause.py)
                    import psycopg
            import psycopg

            raw = psycopg.connect("postgresql://" + rest)
            return Connection(raw, "postgresql")
        if scheme == "sqlite" and rest.startswith("/") and "?" not in rest:
            return Connection(_sqlite(dsn, attach), "sqlite")
    except Exception as exc:  # noqa: BLE001 - sorted: configuration or transient
        raise connection_error(exc, what) from None
    import sqlalchemy.exc

    engine = create_engine(dsn, attach=attach)
    try:
        return Connection(engine.raw_connection(), engine.dialect.name, engine)
    except sqlalchemy.exc.DBAPIError as exc:
        engine.dispose()
        raise connection_error(exc, what) from None


def _sqlite(dsn: str, attach: list[str] | tuple[str, ...]) -> Any:
    """sqlite3 as ``create_engine`` sets it up: WAL, a busy timeout, the schemas attached, and the
    ``regexp`` function SQLAlchemy adds."""
    import sqlite3

    path = sqlite_path(dsn)
    memory = str(path) in ("", ":memory:", "/:memory:")
    if not memory:
        path.parent.mkdir(parents=True, exist_ok=True)
    raw = sqlite3.connect(":memory:" if memory else str(path), timeout=30, check_same_thread=False)
    raw.create_function("regexp", 2, _regexp, deterministic=True)
    _wal_and_schemas(raw, {name: schema_file(dsn, name) for name in attach})
    return raw


def _regexp(pattern: str | None, value: str | None) -> bool | None:
    if value is None or pattern is None:
        return None
    return re.search(pattern, value) is not None


def quote_identifier(name: str) -> str:
    """``"name"`` with embedded quotes doubled: safe on SQLite and PostgreSQL alike."""
    return '"' + name.replace('"', '""') + '"'


def connection_error(exc: Exception, what: str):
    """A database error on connecting, sorted into the taxonomy (message without the DSN)."""
    from runtime.errors import TransientError

    text = str(getattr(exc, "orig", exc)).lower()
    if any(word in text for word in ("password authentication", "does not exist", "permission denied",
                                     "no such", "unable to open", "role ")):
        return ConfigError(f"{what}: {type(getattr(exc, 'orig', exc)).__name__}: "
                           f"{_first_line(getattr(exc, 'orig', exc))}")
    return TransientError(f"{what}: cannot connect ({type(getattr(exc, 'orig', exc)).__name__})", code="connect")


def _first_line(exc: Exception) -> str:
    from runtime import redact

    return redact.text(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
