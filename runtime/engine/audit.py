"""The audit trail: every operator action (run, dry-run of a BSN-carrying interface, replay,
discard) with who, when, what and why, in the state database (``koppel_audit``, migration 0005).

Append-only: this module only inserts and reads, and the migration's trigger refuses UPDATE
and DELETE, so nobody rewrites what was done. The reason an operator types is masked like
every log line before it is stored (a BSN pasted into a reason is not kept).

Written by the console (runtime/console/actions.py) and by the command line: ``koppel run``,
``koppel dry-run`` (of an interface that carries a BSN), ``koppel deadletters replay|discard``
and ``koppel state forget``, with ``$USER`` (or ``--actor``) as who and the role ``cli``: a
person at the daemon's shell, with the state key in reach. Shown in the console (/ui/audit) and
by ``koppel audit list``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

from runtime import redact
from runtime.engine.state.common import utcnow

#: the actions an operator can take; a dry-run is recorded only when the interface carries a BSN;
#: ``forget``: ``koppel state forget`` removed one person's stored payloads (runtime/cli/state.py)
ACTIONS = ("run", "dry-run", "replay", "discard", "forget")

#: the columns ``record`` writes (every ``koppel run`` writes one entry, without SQLAlchemy)
_COLUMNS = ("at", "actor", "role", "action", "interface_id", "subject", "reason", "outcome")


@cache
def _table() -> Any:
    """The trail as a SQLAlchemy table, for the listings (``entries``): made on first use."""
    from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text

    return Table(
        "koppel_audit",
        MetaData(),
        Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("actor", String(200), nullable=False),
        Column("role", String(20), nullable=False),
        Column("action", String(40), nullable=False),
        Column("interface_id", Integer),
        Column("subject", Text),  # what was acted on: "dead letters 4, 7", "run 12"
        Column("reason", Text),
        Column("outcome", Text),
    )


@dataclass(frozen=True)
class Actor:
    name: str
    role: str  # viewer operator


def record(store, actor: Actor, action: str, *, interface_id: int | None = None, subject: str | None = None,
           reason: str | None = None, outcome: str | None = None) -> int:
    """Append one entry; returns its id."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action '{action}' (one of {', '.join(ACTIONS)})")
    values = (store.timestamp(utcnow()), redact.text(actor.name), actor.role, action, interface_id,
              _masked(subject), _masked(reason), _masked(outcome))
    sql = f"INSERT INTO koppel_audit ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
    with store.db.begin() as c:
        return store.inserted(c, sql, values)


def cli_actor(name: str | None) -> Actor:
    """Who acts from the command line: ``--actor`` or ``$USER``, with the role ``cli``."""
    return Actor((name or "").strip() or "cli", "cli")


def carries_bsn(project, interface) -> bool:
    """Whether the interface sends to a system allowed the BSN (catalog ``bsn_legal_basis``):
    its dry-run shows what goes there, so looking at it is an audited action."""
    catalog = getattr(project, "catalog", None)
    if catalog is None:  # a project without a catalog names no system with a legal basis
        return False
    systems = catalog.systems
    names = {getattr(t, "system", None) for t in getattr(interface, "targets", None) or []}
    return any(getattr(systems.get(n), "bsn_legal_basis", None) for n in names if n)


def run_outcome(summary) -> str:
    """A run's outcome as the trail keeps it: the counts an auditor asks for."""
    return (f"{summary.outcome}: read {summary.read}, delivered {summary.delivered}, dead {summary.dead}"
            + (f" ({summary.message})" if summary.message else ""))


def letters(ids: list[int]) -> str:
    """The dead letters an action touched, as the trail's subject (the first 50 named)."""
    return "dead letter(s) " + ", ".join(str(i) for i in ids[:50]) + (" ..." if len(ids) > 50 else "")


def replay_outcome(results) -> str:
    """A replay's results as the trail keeps them: how many ended how ("1 delivered, 2 failed")."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def entries(store, *, limit: int = 100, action: str | None = None, actor: str | None = None,
            interface_id: int | None = None, since: dt.datetime | None = None) -> list[dict]:
    """Newest first."""
    from sqlalchemy import select

    audit = _table()
    t = audit.c
    q = select(audit).order_by(t.id.desc()).limit(limit)
    if action:
        q = q.where(t.action == action)
    if actor:
        q = q.where(t.actor == actor)
    if interface_id is not None:
        q = q.where(t.interface_id == interface_id)
    if since is not None:
        q = q.where(t.at >= since)
    with store.engine.connect() as c:
        return [dict(r) for r in c.execute(q).mappings()]


def _masked(value: str | None) -> str | None:
    return redact.text(value) if value else value
