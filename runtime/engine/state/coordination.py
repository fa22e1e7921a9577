"""Coordination between processes (leases, runs a dead process left open) and the durable webhook
inbox, as StateStore methods.

A lease is free when it is ours or its ``expires_at`` has passed: its holder renews it while it
lives (runtime/engine/lease.py), so expiry is the only sign of death that holds across hosts,
containers and process namespaces alike.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from runtime.engine.state import crypto
from runtime.engine.state.common import aware, jsonable, sqlalchemy_core, utcnow

if TYPE_CHECKING:
    from runtime.engine.state.connections import Connections, Transaction


class LeasesAndInbox:
    """Mixed into StateStore; uses its ``db`` (the leases: every run takes one), its ``engine``
    (the inbox and the listings, through SQLAlchemy Core) and ``dialect``."""

    if TYPE_CHECKING:
        from sqlalchemy.engine import Engine

        db: Connections

        @property
        def engine(self) -> Engine: ...

        @property
        def dialect(self) -> str: ...

        def timestamp(self, value: dt.datetime) -> Any: ...

    # -- leases --------------------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        """Take the lease if it is free, expired or already ours."""
        now = utcnow()
        expires = now + dt.timedelta(seconds=ttl)
        at, until = self.timestamp(now), self.timestamp(expires)
        lock = " FOR UPDATE SKIP LOCKED" if self.dialect == "postgresql" else ""  # another daemon is deciding: let it
        try:
            with self.db.begin() as c:
                row = c.one(f"SELECT holder, expires_at FROM koppel_leases WHERE name = ?{lock}", (name,))
                if row is None:
                    # taken meanwhile by another: the unique name refuses it (IntegrityError below);
                    # nothing else was written in this transaction, so rolling it back loses nothing
                    c.execute("INSERT INTO koppel_leases (name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)",
                              (name, holder, at, until))
                    return True
                current = row[0]
                free = current == holder or _expiry(row[1]) < now
                if not free:
                    return False
                done = c.execute("UPDATE koppel_leases SET holder = ?, acquired_at = ?, expires_at = ? "
                                 "WHERE name = ? AND holder = ?", (holder, at, until, name, current))
                return done.rowcount == 1
        except self.db.IntegrityError:
            return False

    def fenced(self, c: Transaction, name: str, holder: str) -> None:
        """Inside a caller's transaction: go on only while ``holder`` holds lease ``name``. The
        no-op UPDATE takes the lease row's lock (the database's write lock on SQLite), so nobody
        takes the lease over until the caller's transaction has ended."""
        from runtime.engine.state.store import LeaseLost

        done = c.execute("UPDATE koppel_leases SET holder = ? WHERE name = ? AND holder = ?", (holder, name, holder))
        if done.rowcount != 1:
            raise LeaseLost(f"lease {name} is held by another daemon now: this run records nothing more")

    def renew_lease(self, name: str, holder: str, ttl: float) -> bool:
        with self.db.begin() as c:
            done = c.execute("UPDATE koppel_leases SET expires_at = ? WHERE name = ? AND holder = ?",
                             (self.timestamp(utcnow() + dt.timedelta(seconds=ttl)), name, holder))
            return done.rowcount == 1

    def release_lease(self, name: str, holder: str) -> None:
        with self.db.begin() as c:
            c.execute("DELETE FROM koppel_leases WHERE name = ? AND holder = ?", (name, holder))

    def leases(self, prefix: str = "") -> dict[str, dict]:
        """Lease name → {holder, expires_at, alive} for the leases whose name starts with ``prefix``."""
        sa, m = sqlalchemy_core()
        l = m.leases.c
        now = utcnow()
        with self.engine.connect() as c:
            rows = c.execute(sa.select(m.leases).where(l.name.startswith(prefix, autoescape=True))).mappings().all()
        return {r["name"]: {"holder": r["holder"], "expires_at": _expiry(r["expires_at"]),
                            "alive": _expiry(r["expires_at"]) >= now} for r in rows}

    # -- runs a process left open --------------------------------------------------------------

    def open_runs(self) -> list[dict]:
        """Runs still marked ``running`` (by a live process, or by one that died)."""
        sa, m = sqlalchemy_core()
        r = m.runs.c
        q = sa.select(r.id, r.interface_id, r.trigger, r.run_key, r.holder, r.started_at).where(r.outcome == "running")
        with self.engine.connect() as c:
            return [{**row, "started_at": aware(row["started_at"])} for row in c.execute(q.order_by(r.id)).mappings()]

    def close_open_runs(self, ids: list[int], outcome: str, message: str) -> int:
        """Close runs that are still ``running`` (a run closed meanwhile is left as it is)."""
        if not ids:
            return 0
        sa, m = sqlalchemy_core()
        r = m.runs.c
        with self.engine.begin() as c:
            done = c.execute(sa.update(m.runs).where(r.id.in_(ids), r.outcome == "running").values(
                outcome=outcome, message=message, ended_at=utcnow()))
        return done.rowcount

    # -- webhook inbox -------------------------------------------------------------------------

    def inbox_add(self, interface_id: int, key: str | None, body: Any, *, operation: str = "upsert",
                  resource: str | None = None) -> int:
        _, m = sqlalchemy_core()
        with self.engine.begin() as c:
            inserted = c.execute(m.inbox.insert().values(
                interface_id=interface_id, received_at=utcnow(), key=key, operation=operation,
                resource=resource, body=crypto.seal(jsonable(body)))).inserted_primary_key
        assert inserted is not None  # an INSERT of one row always has its key
        return inserted[0]

    def inbox_add_many(self, interface_id: int, rows: list[tuple], *, received_at=None,
                       channel: str | None = None) -> None:
        """(key, body, operation, resource) rows in one transaction: all stored, or none.
        ``channel``: None for the interface's webhook source, ``callback:<name>`` for a callback."""
        now = received_at or utcnow()
        _, m = sqlalchemy_core()
        with self.engine.begin() as c:
            c.execute(m.inbox.insert(), [{"interface_id": interface_id, "received_at": now, "key": k, "body": crypto.seal(jsonable(b)),
                                          "operation": op, "resource": res, "channel": channel}
                                         for k, b, op, res in rows])

    def inbox_prune(self, interface_id: int, upto_id: int, older_than: dt.datetime, *, channel: str | None = None) -> None:
        _, m = sqlalchemy_core()
        t = m.inbox.c
        with self.engine.begin() as c:
            c.execute(m.inbox.delete().where(t.interface_id == interface_id, _channel_is(channel), t.id <= upto_id,
                                             t.received_at < older_than))

    def inbox_after(self, interface_id: int, after_id: int, limit: int, *, channel: str | None = None) -> list[dict]:
        sa, m = sqlalchemy_core()
        t = m.inbox.c
        q = sa.select(m.inbox).where(t.interface_id == interface_id, _channel_is(channel), t.id > after_id
                                  ).order_by(t.id).limit(limit)
        with self.engine.connect() as c:  # bodies opened here: the webhook source and callbacks read them
            return [crypto.unseal_fields(dict(r), "body") for r in c.execute(q).mappings()]


def _expiry(value: dt.datetime | str | None) -> dt.datetime:
    """A lease's ``expires_at`` as an aware datetime (NOT NULL; SQLite's driver hands it back as
    the text SQLAlchemy wrote)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return aware(value) or dt.datetime.min.replace(tzinfo=dt.UTC)


def _channel_is(channel: str | None):
    _, m = sqlalchemy_core()
    column = m.inbox.c.channel
    return column.is_(None) if channel is None else column == channel
