"""``koppel state rekey`` and ``koppel state forget``: work on every sealed column at once.

Rekey re-seals, under the current (first) key, every stored payload sealed under another key or
not sealed at all (rows from before encryption), ``batch`` rows per short transaction, so it runs
while the daemon delivers: a row written meanwhile is sealed under the current key already and
is not touched. On PostgreSQL the rows of a batch are locked (``FOR UPDATE SKIP LOCKED``) between
reading and rewriting them. Afterwards the older keys can be removed from catalog.yaml.

Forget removes the stored payloads of one source key (a person, a student number) from Koppel's
own state: its dead letters (open or closed), its webhook/SCIM/callback bodies and the saved
answers of its multi-step deliveries. The ledger and the lineage keep the key with payload
hashes only (no payload): they are what stops a record being sent twice, and they age out with
retention. The SIS store itself is not touched: its retention is the college's business.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Table, and_, cast, not_, or_, select, update
from sqlalchemy import Text as SqlText

from runtime.engine.state import crypto
from runtime.engine.state import models as m
from runtime.errors import ConfigError

step_progress = m.step_progress


@dataclass(frozen=True)
class Sealed:
    table: Table
    keys: tuple[str, ...]  # primary key columns
    columns: tuple[str, ...]


SEALED = (
    Sealed(m.dead_letters, ("id",), ("record", "payload")),
    Sealed(m.inbox, ("id",), ("body",)),
    Sealed(step_progress, ("interface_id", "system", "idempotency_key"), ("saved",)),
)


def _outdated(column, current: str):
    """Not yet sealed under ``current``: plain JSON or another key's ciphertext (JSON null is left)."""
    text = cast(column, SqlText)
    return and_(column.is_not(None), text != "null", not_(text.like(f'"{crypto.PREFIX}{current}:%')))


def rekey(store, *, batch: int = 200, progress=None) -> dict[str, int]:
    """Re-seal every outdated payload under the current key; table → rows rewritten."""
    keyring = crypto.active()
    if keyring is None:
        raise ConfigError("koppel state rekey: catalog.yaml has no state.keys for this environment")
    done: dict[str, int] = {}
    for sealed in SEALED:
        t = sealed.table
        cols = [t.c[n] for n in sealed.columns]
        outdated = or_(*[_outdated(c, keyring.current) for c in cols])
        while True:
            with store.engine.begin() as c:
                q = select(*[t.c[k] for k in sealed.keys], *cols).where(outdated).limit(batch)
                if store.dialect == "postgresql":
                    q = q.with_for_update(skip_locked=True)
                rows = c.execute(q).mappings().all()
                for row in rows:
                    values = {n: crypto.seal(crypto.unseal(row[n])) for n in sealed.columns
                              if row[n] is not None and not _current(row[n], keyring.current)}
                    c.execute(update(t).where(*[t.c[k] == row[k] for k in sealed.keys]).values(**values))
            done[t.name] = done.get(t.name, 0) + len(rows)
            if progress is not None and rows:
                progress(t.name, done[t.name])
            if len(rows) < batch and not (store.dialect == "postgresql" and _left(store, t, outdated)):
                break  # on PostgreSQL a row another transaction held was skipped: go round again
            if len(rows) < batch:
                time.sleep(0.05)
    return done


def _left(store, table, outdated) -> bool:
    """Whether an outdated row is still there (one a concurrent transaction held was skipped)."""
    with store.engine.connect() as c:
        key = next(iter(table.primary_key.columns))
        return c.execute(select(key).where(outdated).limit(1)).first() is not None


def _current(value, current: str) -> bool:
    return crypto.key_id_of(value) == current


def forget(store, source_key: str) -> dict[str, int]:
    """Remove the stored payloads of one source key; table → rows removed."""
    if not source_key.strip():
        raise ConfigError("koppel state forget: --source-key must not be empty")
    dl, box, sp = m.dead_letters.c, m.inbox.c, step_progress.c
    removed = {}
    with store.engine.begin() as c:
        removed["koppel_dead_letters"] = c.execute(m.dead_letters.delete().where(
            or_(dl.source_key == source_key, dl.idempotency_key == source_key))).rowcount
        removed["koppel_inbox"] = c.execute(m.inbox.delete().where(box.key == source_key)).rowcount
        # a multi-step delivery's key is the source key, or starts with it ("<key>:<digest>")
        removed["koppel_step_progress"] = c.execute(step_progress.delete().where(or_(
            sp.idempotency_key == source_key,
            sp.idempotency_key.startswith(source_key + ":", autoescape=True)))).rowcount
    return removed
