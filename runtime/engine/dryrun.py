"""Dry-run: the same path as a run up to the target, nothing written, everything shown masked.

Reads from the interface's stored cursor (what the next run would send), maps and validates each
record, asks the ledger whether it would be skipped, and renders it with the target's own
``render`` (what would go over the wire). No run is recorded, no cursor moves, nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime import redact
from runtime.engine.lane import error_text
from runtime.engine.pipeline import new_counts
from runtime.engine.state.store import BatchResult
from runtime.errors import ConfigError


@dataclass
class DryRunItem:
    target: str
    source_key: str
    status: str  # send skip filtered dead
    key: str | None = None
    rendered: str | None = None
    reason: str | None = None


def dry_run(engine, ref, limit: int | None = None, *, from_start: bool = False) -> list[DryRunItem]:
    """What the next run would send; with ``from_start``, what a run over the source's current
    records would send, as if the interface had never run (no cursor, no ledger): the way to see
    a realtime interface's mapping at work on real data."""
    from runtime.engine.pipeline import source_names, sources_of

    interface = engine.project.interface(ref)
    lanes = engine.create_lanes(interface)
    items: list[DryRunItem] = []
    seen = 0
    try:
        for name, spec in zip(source_names(interface), sources_of(interface)):
            if from_start:
                spec = _reading_everything(spec)
            source = _source(engine, interface, spec, limit)
            source.open()
            try:
                cursor = None if from_start else engine.store.cursor(interface.id, name)
                for batch in source.read(cursor):
                    records = batch.records if limit is None else batch.records[: max(0, limit - seen)]
                    seen += len(records)
                    for lane in lanes:
                        items += _lane_items(lane, records, interface.delivery, ledger=not from_start)
                    if limit is not None and seen >= limit:
                        return items
            finally:
                source.close()
    finally:
        for lane in lanes:
            lane.target.close()
    return items


def _source(engine, interface, spec, limit: int | None):
    """The interface's source; with a limit, reading batches of at most ``limit`` records, so a
    paged source stops fetching pages once it has enough (the read is lazy)."""
    if limit is None:
        return engine.create_source(interface, spec)
    plugin = engine.registry.get(spec.type, "source")
    batch_size = max(1, min(limit, interface.delivery.batch_size))
    return plugin.create_source(spec, engine.context(interface, spec, batch_size=batch_size))


def _reading_everything(spec):
    """A change-driven source (outbox, watermark) switched to reading every current record,
    where the source offers that mode; other sources read from the start as they are."""
    field = type(spec).model_fields.get("mode")
    if field is None or getattr(spec, "mode", None) == "full":
        return spec
    try:
        return type(spec).model_validate({**spec.model_dump(by_alias=True), "mode": "full"})
    except Exception:  # this source has no full mode: read it from the start as it is
        return spec


def _lane_items(lane, records, policy, *, ledger: bool = True) -> list[DryRunItem]:
    out: list[DryRunItem] = []
    result, counts = BatchResult(), new_counts()
    pending = lane.prepare(records, result, counts)
    for dead in result.dead:
        out.append(DryRunItem(lane.name, redact.text(dead.source_key or ""), "dead", reason=dead.reason))
    prepared = {p.record.key for p in pending}
    for record in records:
        if record.key not in prepared and not any(d.source_key == record.key for d in result.dead):
            out.append(DryRunItem(lane.name, redact.text(record.key), "filtered"))
    consult = ledger and policy.ledger and policy.skip_unchanged
    known = lane.ledger_lookup([p.ledger_key for p in pending]) if consult else {}
    for p in pending:
        if known.get(p.ledger_key) == (p.hash, "delivered"):
            out.append(DryRunItem(lane.name, redact.text(p.record.key), "skip", redact.text(p.item.key),
                                  reason="delivered before with the same content"))
            continue
        try:
            rendered = lane.target.render(p.item)
        except ConfigError:
            raise
        except Exception as exc:
            rendered = f"(cannot render: {error_text(exc)})"
        out.append(DryRunItem(lane.name, redact.text(p.record.key), "send", redact.text(p.item.key), redact.text(rendered)))
    return out
