"""The ids of accepted calls, so that a repeated call is answered 2xx and stored once.

A call's id (runtime/engine/inbound_auth.py: Standard Webhooks' ``webhook-id``, for Signhost
the SHA-256 of the body) is inserted into ``koppel_inbound_ids`` in the same transaction as the
call's records in the inbox. The primary key decides: a second call with the same id (a replay,
or the sender's retry after a lost answer) fails the insert, nothing of it is stored, and the
caller still gets its 2xx. Two identical calls at the same moment are serialised by the key.

Ids are kept for a week, like the inbox rows: far longer than Standard Webhooks' five-minute
tolerance, after which a replay is refused for its timestamp anyway, and long enough for
Signhost's retries. Pruning happens here, at most once an hour per process.

The table is defined here rather than in state/models.py because only the inbound server uses
it; it lives on the same metadata and is created by state migration 0003.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time

from sqlalchemy import Column, Integer, PrimaryKeyConstraint, String, Table
from sqlalchemy.exc import IntegrityError

from runtime.engine.state import crypto
from runtime.engine.state import models as m
from runtime.engine.state.common import jsonable, utcnow

KEEP = dt.timedelta(days=7)
PRUNE_EVERY = 3600.0  # seconds

inbound_ids = Table(
    "koppel_inbound_ids",
    m.metadata,
    Column("interface_id", Integer, nullable=False),
    Column("channel", String(80), nullable=False),  # "" for the interface's own webhook source
    Column("message_id", String(200), nullable=False),
    Column("received_at", m.Ts, nullable=False),
    PrimaryKeyConstraint("interface_id", "channel", "message_id", name="pk_koppel_inbound_ids"),
)

_pruned = {"at": 0.0}
_lock = threading.Lock()


def stored_id(message_id: str) -> str:
    """The id as kept: itself, or its hash when longer than the column (ids are the sender's)."""
    if len(message_id) <= 200:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()


def store_once(store, interface_id: int, rows: list[tuple], *, message_id: str | None,
               channel: str | None = None) -> bool:
    """Store ``rows`` (key, body, operation, resource) in the inbox, all or none. With a
    ``message_id`` already accepted for this interface and channel: store nothing, return False."""
    now = utcnow()
    try:
        with store.engine.begin() as c:
            if message_id is not None:
                c.execute(inbound_ids.insert().values(interface_id=interface_id, channel=channel or "",
                                                      message_id=stored_id(message_id), received_at=now))
            c.execute(m.inbox.insert(), [{"interface_id": interface_id, "received_at": now, "key": k, "body": crypto.seal(jsonable(b)),
                                          "operation": op, "resource": res, "channel": channel} for k, b, op, res in rows])
    except IntegrityError:
        if message_id is None:
            raise
        return False
    _prune_now_and_then(store)
    return True


def _prune_now_and_then(store) -> None:
    with _lock:
        if time.monotonic() - _pruned["at"] < PRUNE_EVERY:
            return
        _pruned["at"] = time.monotonic()
    with store.engine.begin() as c:
        c.execute(inbound_ids.delete().where(inbound_ids.c.received_at < utcnow() - KEEP))
