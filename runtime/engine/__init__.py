"""The Koppel engine: runs interfaces so that nothing is lost, nothing is sent twice without need,
and an operator can see and repair what went wrong.

Python API (everything the CLI and ``koppel demo`` use)::

    from runtime.project import load_project
    from runtime.engine import Engine

    project = load_project(root).require_valid()
    engine = Engine(project, registry=None, environment="sandbox", state_url=None)
    summary = engine.run_interface(13, trigger="manual")      # -> RunSummary
    engine.run_interface(14, trigger="webhook")   # only the callbacks waiting (Signhost postbacks)
    summary.outcome            # ok | partial (some dead letters) | error | stopped | skipped
    summary.read, .mapped, .filtered, .skipped, .delivered, .failed, .dead, .duration, .run_id

    from runtime.engine.dryrun import dry_run
    report = dry_run(engine, 13, limit=10)                    # -> list[DryRunItem], masked

    from runtime.engine.deadletters import DeadLetters
    dl = DeadLetters(engine)
    dl.list(interface_id=15, since=datetime, error_class="record")   # dicts, masked
    dl.replay(ids=[...]) / dl.replay(interface_id=15)                # -> list[ReplayResult]
    dl.discard(ids=[...], reason="...")

    engine.store                    # StateStore: runs, deliveries, lineage, dead letters, cursors
    engine.store.list_runs(interface_id=None, limit=20)

    from runtime.engine.server import create_app
    app = create_app(engine, metrics=None, state=None, on_received=None)   # Starlette app:
        # /healthz /readyz /metrics and the webhook / SCIM endpoints of the active interfaces

    from runtime.engine.daemon import Daemon
    Daemon(engine, host="127.0.0.1", port=8470, scheduler=True, realtime=True).serve()
        # scheduler + outbox/poll/webhook loops + server; SIGTERM drains. ``koppel serve``.
    # or, embedded: d = Daemon(engine); d.start(); ...; d.drain()   (d.app for your own server)

``registry`` defaults to the plugins of the entry-point group; tests pass their own
``runtime.registry.Registry``. ``state_url`` defaults to KOPPEL_STATE_URL (else the SIS store's
database). The state schema is migrated with Alembic on first use (version table
``koppel_state_alembic_version``).

Modules: pipeline (Engine, run loop), lease (leases between processes), lane (one target: map, validate, ledger, waves,
retries), bulk (replication without mapping or ledger: rows as tuples, durable groups), writeback, callbacks (what targets post back later), retry (backoff), deadletters,
dryrun, state/ (tables, Alembic, StateStore),
scheduler (APScheduler 3, one clock), resume (runs of dead daemons), realtime (supervised outbox,
poll and webhook loops), loopstatus + health (what /readyz says), server + inbound_auth
(Starlette), daemon (reloads), metrics (Prometheus), logs (JSON, masked), cli.

Guarantees and how they are kept:
- At-least-once: deliveries, lineage, dead letters, run counts and the cursor of a batch are one
  transaction, written after every record of the batch is delivered or dead-lettered. A crash
  sends the unrecorded batch again; the wire idempotency key lets the target drop the repeat.
- No overlap, several daemons: a run holds the lease ``interface:<id>`` (row in koppel_leases,
  ``KOPPEL_LEASE_TTL`` = 60 s, renewed every third of it by a random per-process holder id; only
  expiry frees a lease; on PostgreSQL the lease row is read FOR UPDATE SKIP LOCKED; lease.py).
  A scheduled tick is claimed by a unique run key ``<id>@<tick>``, the tick counted from one
  origin in every daemon (scheduler.py); a run left ``running`` past its lease is closed or, when
  scheduled, resumed by a survivor (resume.py). One daemon owns each outbox/poll interface
  (``owner:interface:<id>``), the others stand by and take over at expiry (realtime.py).
- Per-key order: within a batch, items go out in waves holding each key once; batches are
  sequential.

Decisions (where the design left a choice):
- Counts of a run are per record *and target*, except ``read`` (per source record).
- ``failed`` counts attempts that failed and were retried; ``dead`` counts dead letters.
- The idempotency key sent to a target is ``<key>:<first 16 hex of the payload hash>``: a repeat
  of the same change carries the same key, a later change of the same record a new one.
- A dead record does not hold back later changes of the same key; a replay of a dead letter whose
  key has been delivered since with newer content is marked ``superseded`` instead of being sent
  (``--force`` sends it anyway).
- A planned interface can be dry-run but not run or scheduled.
- ``delivery.ledger: false`` (bulk replication) writes no delivery or lineage rows: only the
  cursor, run counts and dead letters. ``skip_unchanged`` then has nothing to compare with.
- ``ledger: false`` without mapping or write-back, with a source offering ``read_rows`` and targets
  offering ``write_rows`` (the db plugin: interfaces 0, 2, 18), takes the bulk path (bulk.py): no
  Record, Item or payload hash per row, a COPY stream per group of up to 100,000 rows, counts and
  cursor recorded once the group is durable; a failing group is sent again record by record, so
  retries and dead letters are those of the per-record path. ``KOPPEL_BULK=0`` turns it off.
- Several sources (``sources:``) are read one after the other, each with its own cursor.
- Realtime runs (outbox, poll, webhook, interval) that found nothing are not kept in the history.
- Callbacks (``callbacks:`` of an interface, e.g. Signhost's postbacks on 14) are received like
  webhooks (authenticated, stored in the inbox on channel ``callback:<name>`` before the 2xx) and
  applied by the interface's own runs, under its lease: a ``webhook`` run of an interface whose
  trigger is not a webhook drains only the callbacks (the daemon runs one as soon as the server
  stored a call, and every 5 s); any other run reads the main source first, then drains them.
  Each callback has its own cursor, ledger lane and dead letters (see callbacks.py).
- ``koppel run INTERFACE`` and ``dry-run`` need that interface's own files (and catalog.yaml)
  valid, and read only those (``load_project(only=...)``: the other interface files are listed,
  not parsed, so a broken or slow one elsewhere costs nothing); ``run --all`` and ``serve --strict`` need the whole project valid; ``serve`` runs every
  interface whose own files are valid and reports the others (runtime/servable.py).
- Exit codes of ``koppel run``: 0 ok, 2 some dead letters, 1 error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["Engine", "RunSummary"]

if TYPE_CHECKING:
    from runtime.engine.pipeline import Engine, RunSummary


def __getattr__(name: str):
    # ``from runtime.engine import Engine`` imports the pipeline (SQLAlchemy, the state store);
    # importing a light submodule (realtime's wake-up explanation for validate) does not
    if name in __all__:
        from runtime.engine import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'runtime.engine' has no attribute {name!r}")
