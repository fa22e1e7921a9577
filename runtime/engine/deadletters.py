"""Dead letters: list, show, replay, discard.

A dead letter keeps the source record exactly as it was read. Replay starts from that record and
sends it through the *current* mapping and target, under the interface's lease (so it never
races a run of the same interface) and as a run of its own (trigger ``replay``), so the history
and the lineage show it. A letter is closed only after its delivery is recorded: a crash in
between leaves it open, and the next replay finds the delivery in the ledger and closes it.

A replay whose key was delivered since with different content is ``superseded``: sending the old
change would undo a newer one. ``force=True`` sends it anyway.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from runtime import redact
from runtime.engine.lane import Pending, error_text, payload_hash, record_from_dict
from runtime.engine.pipeline import Lease, new_counts
from runtime.engine.state.common import aware
from runtime.engine.state.store import BatchResult
from runtime.errors import ConfigError, classify
from runtime.plugin import Item, Outcome


@dataclass
class ReplayResult:
    id: int
    interface_id: int
    status: str  # delivered failed superseded filtered already-delivered
    message: str | None = None


def masked(letter: dict) -> dict:
    """A dead letter as shown to a person: record and payload with secrets and BSNs masked."""
    out = dict(letter)
    out["record"] = redact.data(letter.get("record"))
    out["payload"] = redact.data(letter.get("payload"))
    return out


class DeadLetters:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.store = engine.store

    def list(self, *, interface_id: int | None = None, since: dt.datetime | None = None,
             error_class: str | None = None, status: str | None = "open", limit: int = 100) -> list[dict]:
        return [masked(d) for d in self.store.dead_letters(interface_id=interface_id, since=since,
                                                           error_class=error_class, status=status, limit=limit)]

    def show(self, dead_id: int) -> dict | None:
        letter = self.store.dead_letter(dead_id)
        return masked(letter) if letter else None

    def discard(self, ids: list[int], reason: str = "discarded by an operator") -> int:
        n = 0
        for letter in self.store.dead_letters(ids=ids, status="open", limit=len(ids) or 1):
            self.store.resolve_dead_letter(letter["id"], "discarded", redact.text(reason))
            n += 1
        return n

    def replay(self, ids: list[int] | None = None, *, interface_id: int | None = None,
               since: dt.datetime | None = None, error_class: str | None = None, force: bool = False,
               limit: int = 10_000) -> list[ReplayResult]:
        letters = self.store.dead_letters(ids=ids, interface_id=interface_id, since=since,
                                          error_class=error_class, status="open", limit=limit)
        results: list[ReplayResult] = []
        for iid in sorted({d["interface_id"] for d in letters}):
            group = [d for d in letters if d["interface_id"] == iid]
            results += self._replay_interface(iid, group, force)
        return results

    def _replay_interface(self, iid: int, letters: list[dict], force: bool) -> list[ReplayResult]:
        engine = self.engine
        interface = engine.project.interface(iid)
        lease = Lease(self.store, f"interface:{iid}")
        if not lease.acquire(wait=30.0):
            return [ReplayResult(d["id"], iid, "failed", "a run of this interface is in progress; try again")
                    for d in letters]
        run_id = self.store.start_run(iid, "replay", holder=lease.holder)
        counts = new_counts()
        lanes = {}
        results = []
        try:
            from runtime.engine.callbacks import callback_lanes

            lanes = {lane.name: lane for lane in [*engine.create_lanes(interface), *callback_lanes(engine, interface)]}
            for lane in lanes.values():
                lane.target.open()
            for letter in letters:
                results.append(self._replay_one(interface, lanes, letter, run_id, counts, force))
        finally:
            for lane in lanes.values():
                lane.target.close()
            failed = sum(r.status == "failed" for r in results)
            self.store.finish_run(run_id, "partial" if failed else "ok",
                                  f"replayed {len(results)} dead letter(s), {failed} failed again")
            lease.release()
        return results

    def _replay_one(self, interface, lanes, letter: dict, run_id: int, counts: dict, force: bool) -> ReplayResult:
        did, iid = letter["id"], interface.id
        lane = lanes.get(letter["target"])
        if lane is None:
            return ReplayResult(did, iid, "failed", f"target '{letter['target']}' is no longer in the interface")
        record = record_from_dict(letter["record"])
        if letter["stage"] == "writeback":
            return self._replay_writeback(interface, lane, letter, record, run_id)
        batch_counts = new_counts()
        try:
            pending = lane.prepare([record], BatchResult(), batch_counts)
        except ConfigError:
            raise
        if batch_counts["filtered"]:
            self.store.resolve_dead_letter(did, "replayed", "filtered out by the current mapping")
            return ReplayResult(did, iid, "filtered")
        if pending and not force:
            p = pending[0]
            row = self.store.delivery(iid, lane.name, p.ledger_key)
            if row and row["status"] == "delivered":
                if row["payload_hash"] == p.hash:
                    self.store.resolve_dead_letter(did, "replayed", f"already delivered (run {row['run_id']})")
                    return ReplayResult(did, iid, "already-delivered")
                if aware(row["delivered_at"]) and aware(row["delivered_at"]) > aware(letter["last_attempt_at"]):
                    self.store.resolve_dead_letter(did, "superseded", f"a newer change was delivered in run {row['run_id']}")
                    return ReplayResult(did, iid, "superseded", "a newer change of this record was delivered since")
        lane_result = lane.process([record], batch_counts, skip_unchanged=False)
        result = lane_result.result
        new_dead = result.dead
        result.dead = []
        batch_counts["dead"] = 0
        batch_counts["read"] = 1
        self.store.commit_batch(iid, run_id, result)
        for k, v in batch_counts.items():
            counts[k] += v
        if lane_result.delivered:
            self.store.resolve_dead_letter(did, "replayed", f"delivered in run {run_id}")
            return ReplayResult(did, iid, "delivered")
        reason = new_dead[0].reason if new_dead else "interrupted"
        self.store.retry_failed_dead_letter(did, reason, new_dead[0].error_class if new_dead else "transient")
        self.store.add_counts(run_id, {"dead": 1})
        return ReplayResult(did, iid, "failed", reason)

    def _replay_writeback(self, interface, lane, letter, record, run_id) -> ReplayResult:
        from runtime.engine.writeback import WriteBack

        response = (letter.get("payload") or {}).get("response")
        key = letter.get("idempotency_key") or record.key
        pending = Pending(Item(key=key, payload=None, source_key=record.key), record, payload_hash(None), key)
        counts = new_counts()
        try:
            dead = WriteBack(self.engine, interface).apply(lane, [(pending, Outcome(response=response))], counts)
        except Exception as exc:
            if isinstance(exc, ConfigError):
                raise
            dead = [type("D", (), {"reason": error_text(exc), "error_class": classify(exc)})()]
        if not dead:
            self.store.resolve_dead_letter(letter["id"], "replayed", f"written back in run {run_id}")
            return ReplayResult(letter["id"], interface.id, "delivered")
        self.store.retry_failed_dead_letter(letter["id"], dead[0].reason, dead[0].error_class)
        return ReplayResult(letter["id"], interface.id, "failed", dead[0].reason)
