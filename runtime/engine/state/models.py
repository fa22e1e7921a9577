"""Koppel's own state: runs, deliveries, lineage, dead letters, cursors, leases, the webhook inbox
and the progress of multi-step deliveries.

SQLAlchemy Core tables (no ORM: the pipeline writes rows in bulk, and Core is about twice as fast
as ORM bulk inserts, see research/performance-notes.md). Every table starts with ``koppel_`` so
the state can share a database with the SIS store; the Alembic history lives in its own version
table ``koppel_state_alembic_version``.

Timestamps are UTC. JSON columns hold the source record as it was read (not masked: a replay must
send the real record); everything shown to a person goes through ``runtime.redact`` first. The
columns that can hold personal data (dead letters' record and payload, the inbox body) hold it
sealed with the catalog's state keys (``crypto.py``); ``retention.py`` removes rows past their time.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from runtime.engine.state.common import VERSION_TABLE  # noqa: F401 (Alembic's env reads it here)

metadata = MetaData()

#: BigInteger ids that still autoincrement on SQLite (which only does so for INTEGER)
Id = BigInteger().with_variant(Integer(), "sqlite")
Ts = DateTime(timezone=True)

runs = Table(
    "koppel_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("interface_id", Integer, nullable=False),
    Column("trigger", String(20), nullable=False),
    # one row per scheduled fire time: two daemons firing the same tick cannot both insert it
    Column("run_key", String(120), unique=True),
    Column("started_at", Ts, nullable=False),
    Column("ended_at", Ts),
    Column("read", Integer, nullable=False, default=0),
    Column("mapped", Integer, nullable=False, default=0),
    Column("filtered", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("delivered", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),  # attempts that failed and were retried
    Column("dead", Integer, nullable=False, default=0),
    Column("outcome", String(20), nullable=False),  # running ok partial error crashed
    Column("message", Text),
    Column("holder", String(200)),
    Index("ix_koppel_runs_interface", "interface_id", "started_at"),
)

deliveries = Table(
    "koppel_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("interface_id", Integer, nullable=False),
    Column("target", String(120), nullable=False),
    Column("idempotency_key", String(500), nullable=False),
    Column("payload_hash", String(64), nullable=False),
    Column("status", String(20), nullable=False),  # delivered failed dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("reference", String(500)),  # the target's own id (DUO message id, transaction id)
    Column("run_id", BigInteger),
    Column("source_key", String(500)),
    Column("mapping_version", String(100)),
    Column("first_at", Ts),
    Column("updated_at", Ts),
    Column("delivered_at", Ts),
    UniqueConstraint("interface_id", "target", "idempotency_key", name="uq_koppel_deliveries_key"),
)

# Append-only history: which run, source key and mapping version produced each delivery attempt.
lineage = Table(
    "koppel_lineage",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("interface_id", Integer, nullable=False),
    Column("target", String(120), nullable=False),
    Column("idempotency_key", String(500), nullable=False),
    Column("run_id", BigInteger),
    Column("source_key", String(500)),
    Column("mapping_version", String(100)),
    Column("payload_hash", String(64)),
    Column("status", String(20), nullable=False),
    Column("reference", String(500)),
    Column("at", Ts, nullable=False),
    Index("ix_koppel_lineage_key", "interface_id", "target", "idempotency_key"),
    Index("ix_koppel_lineage_run", "run_id"),
)

dead_letters = Table(
    "koppel_dead_letters",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("interface_id", Integer, nullable=False),
    Column("run_id", BigInteger),
    Column("target", String(120)),
    Column("stage", String(20), nullable=False),  # mapping validation delivery writeback
    Column("idempotency_key", String(500)),
    Column("source_key", String(500)),
    Column("record", JSON, nullable=False),  # the source record as read: replay starts from it
    Column("payload", JSON),  # what was sent (or would have been)
    Column("reason", Text, nullable=False),  # already masked
    Column("error_class", String(20), nullable=False),  # transient record configuration
    Column("error_code", String(100)),
    Column("attempts", Integer, nullable=False, default=1),
    Column("first_attempt_at", Ts, nullable=False),
    Column("last_attempt_at", Ts, nullable=False),
    Column("status", String(20), nullable=False, default="open"),  # open replayed discarded
    Column("resolved_at", Ts),
    Column("resolution", Text),
    Index("ix_koppel_dead_letters_open", "status", "interface_id", "last_attempt_at"),
)

cursors = Table(
    "koppel_cursors",
    metadata,
    Column("interface_id", Integer, primary_key=True),
    Column("source", String(120), primary_key=True),
    Column("cursor", Text),
    Column("run_id", BigInteger),
    Column("updated_at", Ts),
)

leases = Table(
    "koppel_leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("acquired_at", Ts, nullable=False),
    Column("expires_at", Ts, nullable=False),
)

# What inbound webhooks delivered, stored before the caller gets its 2xx.
inbox = Table(
    "koppel_inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("interface_id", Integer, nullable=False),
    Column("received_at", Ts, nullable=False),
    Column("key", String(500)),
    Column("operation", String(20), nullable=False, default="upsert"),  # upsert delete patch
    Column("resource", String(40)),  # SCIM: User or Group
    Column("body", JSON),
    # null: the interface's webhook source; "callback:<name>": one of its callbacks (since 0002)
    Column("channel", String(80)),
    Index("ix_koppel_inbox_interface", "interface_id", "id"),
    Index("ix_koppel_inbox_channel", "interface_id", "channel", "id"),
)

# How far a delivery of several calls got (since 0004); written by plugins/rest/progress.py,
# sealed by rekey.py, purged by retention.py: one definition for all three.
step_progress = Table(
    "koppel_step_progress",
    metadata,
    Column("interface_id", Integer, primary_key=True),
    Column("system", String(80), primary_key=True),
    Column("idempotency_key", String(500), primary_key=True),
    Column("steps_done", Integer, nullable=False),
    Column("saved", JSON, nullable=False),
    Column("updated_at", Ts, nullable=False),
)

TABLES = [runs, deliveries, lineage, dead_letters, cursors, leases, inbox, step_progress]
