"""The webhook source: reads what Koppel's server stored in the durable inbox (``koppel_inbox``).

The server authenticates each call and stores its records before answering 2xx; a run of the
interface then reads them here, in arrival order, from the cursor (the last inbox id handled).
Rows behind the cursor are pruned after a week: long enough to investigate, short enough that
the inbox holds no personal data for longer than needed.

An interface's callbacks (runtime/engine/callbacks.py) use this source too, each on its own
inbox channel (``ctx.options["inbox_channel"]``); without one it reads the interface's own calls.

Record: ``key`` from the spec's key expression (SCIM: the resource id), ``data`` the body,
``operation`` upsert or delete; ``meta`` holds ``inbox_id``, ``received_at``, ``resource``
(SCIM User/Group) and ``scim_operation`` (upsert, patch, delete).

A SCIM resource is never a ``delete`` record: the IAM closes an account, it does not remove a
person from the SIS. The server stores a SCIM DELETE as the resource with ``active: false`` (a
User) or without members (a Group), and it is read here as an upsert of that; the mappings of
interfaces 1 and 3 turn it into the closed account.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from runtime.dberrors import database_outage
from runtime.plugin import Batch, Record, Source

KEEP = dt.timedelta(days=7)


class WebhookInboxSource(Source):
    def __init__(self, spec, ctx) -> None:
        self.spec = spec
        self.ctx = ctx
        self.size = int(ctx.options.get("batch_size", 500))
        self.channel = ctx.options.get("inbox_channel")
        self.store = None

    def open(self) -> None:
        from runtime import settings
        from runtime.engine.state import StateStore

        # the engine migrated the state database before it created this source
        self.store = StateStore(self.ctx.state_url or settings.state_url(self.ctx.project_root), migrate=False)

    def read(self, cursor: str | None) -> Iterator[Batch]:
        last = int(cursor or 0)
        while True:
            with database_outage("the webhook inbox (state database)"):
                rows = self.store.inbox_after(self.ctx.interface_id, last, self.size, channel=self.channel)
            if not rows:
                return
            last = rows[-1]["id"]
            yield Batch([_record(r) for r in rows], cursor=str(last), token=last)

    def commit(self, batch: Batch) -> None:
        from runtime.engine.state.store import utcnow

        with database_outage("the webhook inbox (state database)"):
            self.store.inbox_prune(self.ctx.interface_id, batch.token, utcnow() - KEEP, channel=self.channel)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def _record(row: dict) -> Record:
    received = row["received_at"]
    if received is not None and received.tzinfo is None:
        received = received.replace(tzinfo=dt.UTC)
    op = row["operation"]
    return Record(key=row["key"], data=row["body"] if isinstance(row["body"], dict) else {"body": row["body"]},
                  object=row.get("resource"), operation="delete" if op == "delete" and not row.get("resource") else "upsert",
                  meta={"inbox_id": row["id"], "received_at": received.isoformat() if received else None,
                        "resource": row.get("resource"), "scim_operation": op})
