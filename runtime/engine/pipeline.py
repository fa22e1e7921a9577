"""The engine: run an interface from trigger to acknowledged state.

    lease ─> run row ─> source.read(cursor) ─> per batch: lanes (map, validate, deliver, retry)
          ─> one transaction: deliveries + lineage + dead letters + counts + cursor ─> source.commit

The cursor moves only in the same transaction that records the batch's acknowledgements, so a
crash anywhere sends the unrecorded batch again (at-least-once) and the ledger plus the target's
idempotency check drop the repeat. Batches are bounded by ``delivery.batch_size``: memory is flat.

A run of an interface never overlaps itself, across processes too: it holds the lease
``interface:<id>`` in the state database, renewed by a heartbeat while it runs.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runtime.engine import tracing
from runtime.engine.callbacks import callback_lanes, callback_names, callback_source, callbacks_of, main_source_runs
from runtime.engine.checkpoint import Checkpoint
from runtime.engine.lane import TargetLane, error_text
from runtime.engine.lease import LEASE_TTL, Lease  # noqa: F401 (Lease, LEASE_TTL re-exported)
from runtime.engine.retry import Sleeper
from runtime.engine.run import Run, new_counts  # noqa: F401 (new_counts re-exported)
from runtime.engine.state import crypto as state_crypto
from runtime.engine.state.store import BatchResult, LeaseLost, StateStore
from runtime.engine.writeback import WriteBack
from runtime.errors import ConfigError, KoppelError
from runtime.plugin import PluginContext, Record

log = logging.getLogger("koppel.engine")

#: triggers that run often and mostly find nothing; such empty runs are not kept
QUIET_TRIGGERS = ("outbox", "poll", "webhook", "interval")


@dataclass
class RunSummary:
    interface_id: int
    trigger: str
    outcome: str  # ok partial error stopped skipped
    run_id: int | None = None
    read: int = 0
    mapped: int = 0
    filtered: int = 0
    skipped: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    duration: float = 0.0
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Engine:
    """Runs interfaces of one project in one environment. Thread-safe: one run per interface."""

    def __init__(self, project, registry=None, environment: str = "sandbox", *, state_url: str | None = None,
                 store: StateStore | None = None, metrics=None) -> None:
        from runtime import settings
        from runtime.registry import registry as default_registry

        self.project = project
        self.registry = registry or default_registry()
        self.environment = environment
        self.state_url = state_url or (store.url if store else settings.state_url(project.root))
        self.store = store or StateStore(self.state_url)
        state_crypto.configure_for(project, environment)  # stored payloads sealed with the catalog's keys
        self.sleeper = Sleeper()
        self.metrics = metrics
        self._mappings: dict[str, Any] = {}

    # -- public API ----------------------------------------------------------------------------

    def run_interface(self, ref: int | str, trigger: str = "manual", *, run_key: str | None = None,
                      lease_wait: float = 0.0, progress: Callable[[dict], None] | None = None) -> RunSummary:
        interface = self.project.interface(ref)
        iid = interface.id
        if interface.status == "planned":
            raise ConfigError(f"interface {iid} is planned: it can be dry-run, not run")
        lease = Lease(self.store, f"interface:{iid}")
        if not lease.acquire(wait=lease_wait):
            return RunSummary(iid, trigger, "skipped", message="a run of this interface is already in progress")
        try:
            self.store.close_orphaned_runs(iid)
            run_id = self.store.start_run(iid, trigger, run_key=run_key, holder=lease.holder)
            if run_id is None:
                return RunSummary(iid, trigger, "skipped", message=f"run {run_key} was claimed by another daemon")
            with tracing.run_span(self.store, iid, trigger, run_id):  # off unless OTEL_* asks
                return self._run(interface, trigger, run_id, lease, progress)
        finally:
            lease.release()

    def stop(self) -> None:
        """Drain: finish the batch in hand, record it, start no new one."""
        self.sleeper.stop()

    def close(self) -> None:
        self.store.close()

    # -- the run -------------------------------------------------------------------------------

    def _run(self, interface, trigger: str, run_id: int, lease: Lease, progress) -> RunSummary:
        iid = interface.id
        run = Run(self, interface, run_id, trigger, lease, WriteBack(self, interface), progress)
        counts = run.counts
        outcome, message = "ok", None
        log.info("run started", extra={"interface": iid, "run": run_id, "trigger": trigger})
        sources: list = []
        lanes: list[TargetLane] = []
        try:
            if main_source_runs(interface, trigger):
                lanes = self.create_lanes(interface)
                for lane in lanes:
                    lane.target.open()
                for source_name, spec in zip(source_names(interface), sources_of(interface)):
                    source = self.create_source(interface, spec)
                    sources.append(source)
                    source.open()
                    outcome, message = self._read_source(run, source, source_name, lanes)
                    if outcome != "ok":
                        break
            if outcome != "stopped":  # after the deliveries, so their write-backs are in the SIS first
                drained, why = self._drain_callbacks(run, lanes, sources)
                if outcome == "ok":
                    outcome, message = drained, why
        except LeaseLost as exc:  # its lease expired under it: the survivor that took it over records
            outcome, message = "stopped", error_text(exc)
            log.warning("run stopped: %s", message, extra={"interface": iid, "run": run_id})
        except KoppelError as exc:
            outcome, message = "error", error_text(exc)
            log.error("run stopped: %s", message, extra={"interface": iid, "run": run_id, "error_class": exc.error_class})
            if not isinstance(exc, ConfigError):
                outcome = "error"
        except Exception as exc:
            outcome, message = "error", error_text(exc)
            log.exception("run failed: %s", message, extra={"interface": iid, "run": run_id})
        finally:
            for closable in [*(l.target for l in lanes), *sources]:
                if closable is not None:
                    try:
                        closable.close()
                    except Exception:
                        log.exception("close failed")
        if outcome == "ok" and counts["dead"]:
            outcome, message = "partial", f"{counts['dead']} record(s) went to the dead letters"
        kept_id: int | None = run_id
        if trigger in QUIET_TRIGGERS and outcome == "ok" and not any(counts.values()):
            self.store.delete_run(run_id)  # a realtime slice that found nothing: not history
            kept_id = None
        elif not self.store.finish_run(run_id, outcome, message, fence=run.fence):
            log.warning("run not closed here: another daemon holds the interface now", extra={"interface": iid, "run": run_id})
        summary = RunSummary(iid, trigger, outcome, kept_id, duration=round(time.monotonic() - run.started, 3),
                             message=message, **counts)
        if self.metrics:
            self.metrics.run(iid, outcome, summary.duration)
        log.info("run finished", extra={"interface": iid, "run": kept_id, "outcome": outcome,
                                        **{k: v for k, v in counts.items()}, "duration": summary.duration})
        return summary

    def _read_source(self, run: Run, source, source_name: str, lanes: list[TargetLane]) -> tuple[str, str | None]:
        """Read one source from its cursor to the end; each batch acknowledged and recorded."""
        from runtime.engine.bulk import BulkRead, bulk_possible

        if bulk_possible(run.interface, source, lanes, run.writeback):
            return BulkRead(run, source, source_name, lanes).run()
        cursor = run.cursor(source_name)
        progress = run.progress
        if getattr(progress, "wants_total", False) and hasattr(source, "total"):
            progress.expect(source.total(cursor))  # type: ignore[union-attr] # an interactive run shows an ETA (cli.py)
        for batch in source.read(cursor):
            with tracing.span("koppel.batch", records=len(batch.records)):
                stop = self._process_batch(run, batch, source, source_name, lanes)
            if stop:
                return stop
        return "ok", None

    def _process_batch(self, run: Run, batch, source, source_name: str,
                       lanes: list[TargetLane]) -> tuple[str, str] | None:
        """Deliver one batch record by record, recorded in steps (checkpoint.py); (outcome, message)
        when the run must stop."""
        policy = run.interface.delivery
        writeback = run.writeback

        def commit(result: BatchResult, cursor: str | None, move: bool) -> None:
            run.record(result, source_name=source_name, cursor=cursor, move_cursor=move)

        def write_back(lane: TargetLane, delivered: list) -> list:
            return writeback.apply(lane, delivered, batch_counts) if writeback.needed(lane) else []

        batch_counts = new_counts()
        checkpoint = Checkpoint(batch=batch, lanes=len(lanes), counts=batch_counts, commit=commit,
                                write_back=write_back, ledger=policy.ledger, every=policy.commit_every,
                                interval=policy.commit_interval)
        complete = True
        for lane in lanes:
            lane_result = lane.process(batch.records, batch_counts, checkpoint=checkpoint)
            complete = complete and not lane_result.interrupted
            if not complete:
                break
        checkpoint.step(final=True, complete=complete)
        if not complete:
            return "stopped", "stopped by a drain while retrying; the batch is read again next time"
        source.commit(batch)
        return run.stop_reason()

    def _drain_callbacks(self, run: Run, lanes: list[TargetLane], sources: list) -> tuple[str, str | None]:
        """Read each callback's inbox from its cursor, map, and write to the SIS (callbacks.py)."""
        interface = run.interface
        for lane, name, callback in zip(callback_lanes(self, interface), callback_names(interface),
                                        callbacks_of(interface)):
            lanes.append(lane)
            lane.target.open()
            source = callback_source(self, interface, name, callback)
            sources.append(source)
            source.open()
            outcome, message = self._read_source(run, source, name, [lane])
            if outcome != "ok":
                return outcome, message
        return "ok", None

    # -- building blocks -----------------------------------------------------------------------

    def context(self, interface, spec, **options) -> PluginContext:
        system_name = getattr(spec, "system", None)
        system = None
        catalog = self.project.catalog
        if system_name and catalog is not None and system_name in catalog.systems:
            system = catalog.systems[system_name].environments.get(self.environment)
        return PluginContext(environment=self.environment, project_root=Path(self.project.root),
                             system_name=system_name, system=system, interface_id=interface.id,
                             state_url=self.state_url,
                             options={"batch_size": interface.delivery.batch_size, **options})

    def create_source(self, interface, spec=None):
        spec = spec or sources_of(interface)[0]
        plugin = self.registry.get(spec.type, "source")
        return plugin.create_source(spec, self.context(interface, spec))

    def create_target(self, interface, spec):
        plugin = self.registry.get(spec.type, "target")
        return plugin.create_target(spec, self.context(interface, spec))

    def target_names(self, interface) -> list[str]:
        names = [getattr(s, "system", None) or s.type for s in interface.targets]
        return [n if names.count(n) == 1 else f"{n}#{i}" for i, n in enumerate(names)]

    def create_lanes(self, interface, targets: bool = True) -> list[TargetLane]:
        key_of = self.key_function(interface)
        lanes = []
        for name, spec in zip(self.target_names(interface), interface.targets):
            mapping_name = getattr(spec, "mapping", None) or interface.mapping
            mapping = self.mapping(mapping_name) if mapping_name else None
            lanes.append(TargetLane(
                name=name, target=self.create_target(interface, spec) if targets else None, spec=spec,
                mapping=mapping, mapping_version=_version(mapping, mapping_name), key_of=key_of,
                policy=interface.delivery, sleeper=self.sleeper, metrics=self.metrics, interface_id=interface.id,
                ledger_lookup=functools.partial(self.store.ledger, interface.id, name)))
        return lanes

    def mapping(self, name: str):
        if name not in self._mappings:
            try:
                from runtime.mapping import load_mapping
            except ModuleNotFoundError as exc:
                raise ConfigError(f"mapping '{name}' cannot be loaded: the mapping engine is not installed") from exc
            self._mappings[name] = load_mapping(Path(self.project.root), name)
        return self._mappings[name]

    @staticmethod
    def key_function(interface) -> Callable[[Record], str]:
        expression = interface.delivery.idempotency_key
        if not expression:
            return lambda record: str(record.key)
        import jmespath

        compiled = jmespath.compile(expression)

        def key_of(record: Record) -> str:
            value = compiled.search(record.data)
            if value is None or value == "":
                from runtime.errors import RecordError

                raise RecordError(f"idempotency key '{expression}' is empty for this record", path=expression)
            return str(value)

        return key_of


def sources_of(interface) -> list:
    """The interface's sources: ``source``, or ``sources`` read one after the other."""
    return list(getattr(interface, "all_sources", None) or [interface.source])


def source_names(interface) -> list[str]:
    """Cursor names: the plugin type for a single source (``sis``); with several, also the
    system or position, so each keeps its own cursor."""
    specs = sources_of(interface)
    if len(specs) == 1:
        return [specs[0].type]
    names = [f"{s.type}:{getattr(s, 'system', None) or i}" for i, s in enumerate(specs)]
    return [n if names.count(n) == 1 else f"{n}#{i}" for i, n in enumerate(names)]


def _version(mapping, name: str | None) -> str | None:
    if mapping is None:
        return None
    version = getattr(mapping, "version", None)
    return f"{name}@{version}" if version else name

