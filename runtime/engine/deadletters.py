"""Dead letters: list, show, replay, discard.

A dead letter keeps the source record exactly as it was read. Replay starts from that record and
sends it through the *current* mapping and target, under the interface's lease (so it never
races a run of the same interface) and as a run of its own (trigger ``replay``), so the history
and the lineage show it. A letter is closed only after its delivery is recorded: a crash in
between leaves it open, and the next replay finds the delivery in the ledger and closes it.

Source order. Several open letters of one record (the same target and idempotency key: a record
refused as c1, then again as c2) are one replay: only the newest source state is sent, never an
older one after a newer. Where the interface's source can re-read a record (``Source.reread``,
runtime/plugin.py: the sis source) that state is the record as the source holds it now; else it
is the newest letter's stored record (by the source's sequence number, else the letter's id).
The older letters are closed as ``superseded`` once that newer content is delivered, and stay
open when it fails again.

A letter is ``superseded`` only by a delivery of newer source content: the ledger shows its key
delivered with other content *after* the letter's last attempt (a later run read a later
change), or a newer letter of the same record was delivered by this replay. ``force=True`` sends
a stored letter even then.
"""

from __future__ import annotations

import builtins
import datetime as dt
import logging
from dataclasses import dataclass

from runtime import redact
from runtime.engine.lane import Pending, error_text, payload_hash, record_from_dict
from runtime.engine.pipeline import Lease, new_counts
from runtime.engine.state.common import aware
from runtime.engine.state.store import BatchResult
from runtime.engine.writeback import WriteBack
from runtime.errors import ConfigError, KoppelError, classify
from runtime.plugin import Item, Outcome

log = logging.getLogger("koppel.engine")


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
             error_class: str | None = None, status: str | None = "open", limit: int = 100) -> builtins.list[dict]:
        return [masked(d) for d in self.store.dead_letters(interface_id=interface_id, since=since,
                                                           error_class=error_class, status=status, limit=limit)]

    def show(self, dead_id: int) -> dict | None:
        letter = self.store.dead_letter(dead_id)
        return masked(letter) if letter else None

    def discard(self, ids: builtins.list[int], reason: str = "discarded by an operator") -> int:
        n = 0
        for letter in self.store.dead_letters(ids=ids, status="open", limit=len(ids) or 1):
            self.store.resolve_dead_letter(letter["id"], "discarded", redact.text(reason))
            n += 1
        return n

    def replay(self, ids: builtins.list[int] | None = None, *, interface_id: int | None = None,
               since: dt.datetime | None = None, error_class: str | None = None, force: bool = False,
               limit: int = 10_000) -> builtins.list[ReplayResult]:
        letters = self.store.dead_letters(ids=ids, interface_id=interface_id, since=since,
                                          error_class=error_class, status="open", limit=limit)
        results: builtins.list[ReplayResult] = []
        for iid in sorted({d["interface_id"] for d in letters}):
            group = [d for d in letters if d["interface_id"] == iid]
            results += self._replay_interface(iid, group, force)
        return results

    def _replay_interface(self, iid: int, letters: builtins.list[dict], force: bool) -> builtins.list[ReplayResult]:
        engine = self.engine
        interface = engine.project.interface(iid)
        lease = Lease(self.store, f"interface:{iid}")
        if not lease.acquire(wait=30.0):
            return [ReplayResult(d["id"], iid, "failed", "a run of this interface is in progress; try again")
                    for d in letters]
        run_id = self.store.start_run(iid, "replay", holder=lease.holder)
        counts = new_counts()
        lanes = {}
        results: builtins.list[ReplayResult] = []
        source = None
        try:
            from runtime.engine.callbacks import callback_lanes

            lanes = {lane.name: lane for lane in [*engine.create_lanes(interface), *callback_lanes(engine, interface)]}
            for lane in lanes.values():
                lane.target.open()
            source = self._rereader(interface)
            for group in _by_record(letters):
                results += self._replay_record(interface, lanes, group, source, run_id, counts, force)
        finally:
            for lane in lanes.values():
                lane.target.close()
            if source is not None:
                source.close()
            failed = sum(r.status == "failed" for r in results)
            self.store.finish_run(run_id, "partial" if failed else "ok",
                                  f"replayed {len(results)} dead letter(s), {failed} failed again")
            lease.release()
        return results

    def _rereader(self, interface):
        """The interface's source, opened, when it can re-read records by key; else None."""
        specs = getattr(interface, "all_sources", None) or [interface.source]
        if len(specs) != 1:
            return None
        try:
            source = self.engine.create_source(interface, specs[0])
        except Exception:  # noqa: BLE001 - no re-read: the stored records are sent
            return None
        if not callable(getattr(source, "reread", None)):
            return None
        try:
            source.open()
        except KoppelError as exc:
            log.warning("replay: the source cannot be re-read (%s); sending the stored records", error_text(exc))
            return None
        return source

    def _replay_record(self, interface, lanes, group: builtins.list[dict], source, run_id: int, counts: dict,
                       force: bool) -> builtins.list[ReplayResult]:
        """The letters of one record, oldest first: replay the newest state, then close the rest."""
        iid = interface.id
        newest, older = group[-1], group[:-1]
        record = record_from_dict(newest["record"])
        reread = False
        if source is not None and newest["stage"] != "writeback" and not newest["target"].startswith("callback:"):
            current = source.reread([record])[0]
            if current is None and record.operation != "delete":
                return [ReplayResult(d["id"], iid, "failed", "the record no longer exists at the source: its "
                                     "delete is delivered as a change of its own; discard this letter")
                        for d in group]
            record, reread = current or record, current is not None
        result = self._replay_one(interface, lanes, newest, record, run_id, counts, force, reread=reread)
        results = [result]
        for letter in older:
            if result.status in ("delivered", "already-delivered", "superseded"):
                why = f"a newer change of this record was delivered (dead letter {newest['id']})"
                self.store.resolve_dead_letter(letter["id"], "superseded", why)
                results.append(ReplayResult(letter["id"], iid, "superseded", why))
            elif result.status == "filtered":
                self.store.resolve_dead_letter(letter["id"], "replayed", "the record's newest change is filtered "
                                               "out by the current mapping")
                results.append(ReplayResult(letter["id"], iid, "filtered"))
            else:
                results.append(ReplayResult(letter["id"], iid, "failed", f"kept open: the newest change of this "
                                            f"record (dead letter {newest['id']}) failed again"))
        return sorted(results, key=lambda r: r.id)

    def _replay_one(self, interface, lanes, letter: dict, record, run_id: int, counts: dict, force: bool, *,
                    reread: bool = False) -> ReplayResult:
        did, iid = letter["id"], interface.id
        lane = lanes.get(letter["target"])
        if lane is None:
            return ReplayResult(did, iid, "failed", f"target '{letter['target']}' is no longer in the interface")
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
                # the source's state as read now is the newest there is; a stored record is older
                # than a delivery made after its last attempt (a later run read a later change)
                delivered_at, attempted_at = aware(row["delivered_at"]), aware(letter["last_attempt_at"])
                if not reread and delivered_at and attempted_at and delivered_at > attempted_at:
                    self.store.resolve_dead_letter(did, "superseded", f"a newer change was delivered in run {row['run_id']}")
                    return ReplayResult(did, iid, "superseded", "a newer change of this record was delivered since")
        lane_result = lane.process([record], batch_counts, skip_unchanged=False)
        result = lane_result.result
        new_dead = result.dead
        result.dead = []
        batch_counts["dead"] = 0
        batch_counts["read"] = 1
        writeback = WriteBack(self.engine, interface)
        if lane_result.delivered and writeback.needed(lane):
            # as a run does after a delivery (pipeline.py): the target's answer into the SIS. A
            # write-back that fails now is a dead letter of its own (stage writeback), and this
            # letter is still closed: its delivery is done and is never repeated for it
            result.dead = writeback.apply(lane, lane_result.delivered, batch_counts)
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


def _by_record(letters: list[dict]) -> list[list[dict]]:
    """Letters grouped per record (target and idempotency key), each group in source order; a
    write-back letter is a group of its own (it redoes a write-back, not a delivery)."""
    groups: dict[tuple, list[dict]] = {}
    for letter in letters:
        if letter["stage"] == "writeback":
            key: tuple = ("writeback", letter["id"])
        else:
            key = (letter["target"], letter.get("idempotency_key") or letter.get("source_key"))
        groups.setdefault(key, []).append(letter)
    return [sorted(g, key=_source_position) for g in sorted(groups.values(), key=lambda g: min(d["id"] for d in g))]


def _source_position(letter: dict) -> tuple:
    """Where a letter's record stands in its source: the outbox sequence when it has one."""
    seq = ((letter.get("record") or {}).get("meta") or {}).get("seq")
    try:
        return (0, int(seq), letter["id"]) if seq is not None else (1, 0, letter["id"])
    except (TypeError, ValueError):
        return (1, 0, letter["id"])
