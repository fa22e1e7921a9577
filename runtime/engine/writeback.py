"""Write part of a target's answer back into the SIS (an ECK-iD, a Signhost transaction id).

A target with ``writeback: {object, mapping}`` gets, for every delivered record, the mapping run
over ``{record, response}``; the result is upserted into the SIS object through the target of
the plugin that declares the ``writeback_spec`` capability (runtime/plugin.py: the sis plugin). A failed write-back is a dead letter of stage ``writeback`` holding the source
record and the response, so a replay redoes only the write-back, never the delivery itself.
"""

from __future__ import annotations

from typing import Any

from runtime.engine.lane import Pending, error_text, record_dict
from runtime.engine.state.store import DeadLetterRow
from runtime.errors import ConfigError, KoppelError, TransientError, classify
from runtime.plugin import Item, Outcome


class WriteBack:
    def __init__(self, engine, interface) -> None:
        self.engine = engine
        self.interface = interface
        self._targets: dict[str, Any] = {}

    def needed(self, lane) -> bool:
        return getattr(lane.spec, "writeback", None) is not None

    def _store_target(self, lane):
        if lane.name not in self._targets:
            spec = writeback_store(self.engine.registry).writeback_spec(lane.spec.writeback.object)
            target = self.engine.create_target(self.interface, spec)
            target.open()
            self._targets[lane.name] = target
        return self._targets[lane.name]

    def apply(self, lane, delivered: list[tuple[Pending, Outcome]], counts: dict) -> list[DeadLetterRow]:
        """Write back what the target answered; returns dead letters for what could not be."""
        spec = lane.spec.writeback
        mapping = self.engine.mapping(spec.mapping)
        items, sources, dead = [], [], []
        for p, outcome in delivered:
            if outcome.response is None:
                continue
            try:
                payload = mapping({"record": p.record.data, "response": outcome.response})
            except ConfigError:
                raise
            except Exception as exc:
                dead.append(self._dead(lane, p.record, outcome.response, exc))
                continue
            if payload is not None:
                items.append(Item(key=p.ledger_key, payload=payload, source_key=p.record.key, object=spec.object))
                sources.append((p.record, outcome.response))
        if items:
            try:
                outcomes = self._store_target(lane).write(items)
            except ConfigError:
                raise
            except Exception as exc:  # the store failed as a whole: every item's write-back is dead
                error = exc if isinstance(exc, KoppelError) else TransientError(error_text(exc))
                outcomes = [Outcome(error=error)] * len(items)
            for (record, response), outcome in zip(sources, outcomes):
                if not outcome.ok:
                    dead.append(self._dead(lane, record, response, outcome.error))
        counts["dead"] += len(dead)
        return dead

    def _dead(self, lane, record, response, exc) -> DeadLetterRow:
        return DeadLetterRow(stage="writeback", record=record_dict(record), reason=error_text(exc),
                             error_class=classify(exc), target=lane.name, source_key=record.key,
                             idempotency_key=lane.key_of(record), payload={"response": response},
                             error_code=getattr(exc, "code", None))


def writeback_store(registry):  # noqa: ANN001, ANN201 - a Registry; the Plugin it holds
    """The one plugin whose target takes write-backs (``Plugin.writeback_spec``)."""
    found = [p for p in registry if p.writeback_spec is not None]
    if len(found) != 1:
        names = ", ".join(p.type for p in found) or "none"
        raise ConfigError(f"write-back needs exactly one plugin that declares writeback_spec; found: {names}")
    return found[0]
