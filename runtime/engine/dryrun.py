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


def dry_run(engine, ref, limit: int | None = None) -> list[DryRunItem]:
    from runtime.engine.pipeline import source_names, sources_of

    interface = engine.project.interface(ref)
    lanes = engine.create_lanes(interface)
    items: list[DryRunItem] = []
    seen = 0
    try:
        for name, spec in zip(source_names(interface), sources_of(interface)):
            source = engine.create_source(interface, spec)
            source.open()
            try:
                for batch in source.read(engine.store.cursor(interface.id, name)):
                    records = batch.records if limit is None else batch.records[: max(0, limit - seen)]
                    seen += len(records)
                    for lane in lanes:
                        items += _lane_items(lane, records, interface.delivery)
                    if limit is not None and seen >= limit:
                        return items
            finally:
                source.close()
    finally:
        for lane in lanes:
            lane.target.close()
    return items


def _lane_items(lane, records, policy) -> list[DryRunItem]:
    out: list[DryRunItem] = []
    result, counts = BatchResult(), new_counts()
    pending = lane.prepare(records, result, counts)
    for dead in result.dead:
        out.append(DryRunItem(lane.name, redact.text(dead.source_key or ""), "dead", reason=dead.reason))
    prepared = {p.record.key for p in pending}
    for record in records:
        if record.key not in prepared and not any(d.source_key == record.key for d in result.dead):
            out.append(DryRunItem(lane.name, redact.text(record.key), "filtered"))
    known = lane.ledger_lookup([p.ledger_key for p in pending]) if (policy.ledger and policy.skip_unchanged) else {}
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
