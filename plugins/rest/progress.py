"""How far a delivery of several calls got (Signhost: create, upload, start), kept durably.

After each finished call the number of calls done and the values saved so far (the transaction
id) are written to ``koppel_step_progress`` in Koppel's state database (migration 0004), keyed
by interface, system and the delivery's idempotency key. A retry or a dead-letter replay of the
same delivery reads it back and continues after the last finished call with the stored
transaction id, so a document never gets a second transaction, nor its signers a second
invitation. A delivery that finished keeps its row: a repeat returns the stored answer without
calling the peer again.

The idempotency key is the document plus a digest of its mapped payload: a changed document is
a new version to sign and gets its own transaction; the same version never gets two.

Without a state database (a target built by hand in a test), progress is kept in memory for the
life of the target, with a warning.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

import sqlalchemy as sa

from runtime.engine.state import crypto  # the saved answers are sealed like every stored payload
from runtime.engine.state.models import step_progress

log = logging.getLogger(__name__)

_table = step_progress

class StepProgress:
    """``load(key)`` → (calls done, saved values); ``record(key, done, saved)`` after each call."""

    def __init__(self, state_url: str | None, interface_id: int | None, system: str | None) -> None:
        self.where = (interface_id or 0, system or "")
        self.engine = None
        self.memory: dict[str, tuple[int, dict]] = {}
        self.lock = threading.Lock()
        if state_url:
            from runtime.engine.state import StateStore

            # the engine migrated the state database when it started; this only reads and writes
            self.engine = StateStore(state_url, migrate=False).engine
        else:
            log.warning("no state database: the progress of multi-step deliveries is kept in memory only")

    def load(self, key: str) -> tuple[int, dict[str, Any]]:
        if self.engine is None:
            with self.lock:
                done, saved = self.memory.get(key, (0, {}))
            return done, dict(saved)
        with self.engine.connect() as c:
            row = c.execute(sa.select(_table.c.steps_done, _table.c.saved).where(*self._match(key))).first()
        return (row.steps_done, dict(crypto.unseal(row.saved) or {})) if row else (0, {})

    def record(self, key: str, done: int, saved: dict[str, Any]) -> None:
        """Durable before the next call is made: a crash after this never repeats the call."""
        if self.engine is None:
            with self.lock:
                self.memory[key] = (done, dict(saved))
            return
        values = {"steps_done": done, "saved": crypto.seal(saved), "updated_at": dt.datetime.now(dt.UTC)}
        with self.engine.begin() as c:
            changed = c.execute(sa.update(_table).where(*self._match(key)).values(**values)).rowcount
            if not changed:
                c.execute(sa.insert(_table).values(interface_id=self.where[0], system=self.where[1],
                                                   idempotency_key=key, **values))

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()

    def _match(self, key: str) -> tuple:
        return (_table.c.interface_id == self.where[0], _table.c.system == self.where[1],
                _table.c.idempotency_key == key)
