"""One target of an interface: map, validate, skip what the ledger already has, deliver, retry.

A lane turns a batch of source records into acknowledgements for its target:

- mapping and validation failures are the record's own problem: dead letter at once;
- the ledger skips a record delivered before under the same idempotency key with the same
  payload hash (``delivery.skip_unchanged``);
- items go out in *waves* that hold each idempotency key at most once, so two changes of one
  student reach the target in order even when the first needs retries;
- every item has its own outcome and its own retry clock: a transient failure of one record is
  retried for that record alone, after its own backoff (``delivery.retries``) or the peer's
  Retry-After, while the records that are not waiting go on; when the attempts run out the record
  becomes a dead letter, error class ``transient``: nothing is dropped;
- a target that writes the items together may raise (runtime/plugin.py): a RecordError is
  isolated by sending the items one at a time, anything else fails each item of that write with a
  reason naming it; every dead letter's reason names its own record;
- with a ``Checkpoint`` (runtime/engine/checkpoint.py) no more than ``delivery.commit_every``
  records are sent between two recorded steps, so a crash re-sends at most that many.

On the wire, ``Item.key`` (the rest plugin's ``Idempotency-Key``) is ``<key>:<payload hash[:16]>``:
a repeat of the same change carries the same key, a new change of the same record a new one.
The hash (canonical JSON, SHA-256) is made once per record and only when something reads it: the
ledger (its rows and the skip check) or a target that reads ``Item.key``. With ``ledger: false``
and a target that never reads the key (the db plugin's upserts) no record is hashed at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime import redact
from runtime.engine import tracing
from runtime.engine.checkpoint import Checkpoint
from runtime.engine.retry import Backoff, Sleeper
from runtime.engine.state.store import BatchResult, DeadLetterRow, DeliveryRow, utcnow
from runtime.errors import (
    ConfigError,
    KoppelError,
    RecordError,
    TransientError,
    classify,
)
from runtime.plugin import Item, Outcome, Record, Target

log = logging.getLogger("koppel.engine")


def payload_hash(payload: Any) -> str:
    """SHA-256 of the payload's canonical JSON: ``json.dumps(payload, sort_keys=True,
    separators=(",", ":"), ensure_ascii=False, default=str)``. The stored ledger compares these
    values across releases: another text would re-send every record once (and give every REST
    peer new Idempotency-Keys). Made with json's C encoder built once, not a JSONEncoder per call."""
    if _canonical is None:
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    else:
        text = "".join(_canonical(payload, 0))
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical_encoder() -> Callable[[Any, int], Sequence[str]] | None:
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)
    if make is None:  # a Python without json's C accelerator
        return None
    # (markers, default, encode_str, indent, key_sep, item_sep, sort_keys, skipkeys, allow_nan) as
    # json.dumps passes them; no markers: a mapping's output is a tree (a cycle: RecursionError)
    return make(None, str, encoder.encode_basestring, None, ":", ",", True, False, True)


_canonical = _canonical_encoder()


class KeyedItem(Item):
    """An Item whose key ``<key>:<payload hash[:16]>`` is made when it is first read; the hash is
    kept, so the ledger row and the key share one hash per record.

    Made once per record on the hot path: its fields are set directly (Item's dataclass
    ``__init__`` went through the ``key`` property's setter with keyword arguments: under cProfile
    the largest per-record cost of the engine's own, issue 15 goal 4)."""

    def __init__(self, ledger_key: str, digest: str | None, payload: Any = None, source_key: str = "",
                 operation: str = "upsert", object: str | None = None) -> None:  # noqa: A002 - Item's field
        self._ledger_key = ledger_key
        self._key: str | None = None
        self.digest = digest
        self.payload = payload
        self.source_key = source_key
        self.operation = operation
        self.object = object

    @property
    def hash(self) -> str:
        if self.digest is None:
            self.digest = payload_hash(self.payload)
        return self.digest

    @property  # type: ignore[override] # a field of Item, made lazily here
    def key(self) -> str:
        if self._key is None:
            self._key = f"{self._ledger_key}:{self.hash[:16]}"
        return self._key

    @key.setter
    def key(self, value: str | None) -> None:
        self._key = value

    def __eq__(self, other: object) -> bool:  # equal to the plain Item it stands for
        if not isinstance(other, Item):
            return NotImplemented
        return ((self.key, self.payload, self.source_key, self.operation, self.object)
                == (other.key, other.payload, other.source_key, other.operation, other.object))

    __hash__ = None  # type: ignore[assignment] # as Item's: mutable, not hashable


def record_dict(record: Record) -> dict:
    return {"key": record.key, "data": record.data, "object": record.object,
            "operation": record.operation, "meta": record.meta}


def record_from_dict(value: dict) -> Record:
    return Record(key=value["key"], data=value.get("data") or {}, object=value.get("object"),
                  operation=value.get("operation", "upsert"), meta=value.get("meta") or {})


def error_text(exc: BaseException) -> str:
    """An error as stored and shown: masked, with its class name when it is not one of ours."""
    text = str(exc) if isinstance(exc, KoppelError) else f"{type(exc).__name__}: {exc}"
    return redact.text(text)[:2000]


def own_reason(record: Record, exc: BaseException) -> str:
    """A dead letter's reason, always naming its own record (an operator reads it in a list)."""
    text = error_text(exc)
    key = str(record.key)
    return text if key in text else redact.text(f"record {key}: {text}")[:2000]


class Interrupted(Exception):
    """A drain asked the lane to stop while it was waiting to retry."""


class Pending:
    """One mapped record on its way through a lane: its item, attempts and retry clock. A plain
    class with ``__slots__``: one is made per record, and a dataclass's keyword ``__init__`` with
    defaults cost a few microseconds of it."""

    __slots__ = ("attempts", "digest", "first_at", "item", "last_error", "ledger_key", "ready_at", "record")

    def __init__(self, item: Item, record: Record, digest: str | None, ledger_key: str, attempts: int = 0,
                 first_at: Any = None, last_error: BaseException | None = None, ready_at: float = 0.0) -> None:
        self.item = item
        self.record = record
        self.digest = digest  # the payload hash; None: the KeyedItem's, made when first read
        self.ledger_key = ledger_key
        self.attempts = attempts
        self.first_at = first_at
        self.last_error = last_error
        self.ready_at = ready_at  # time.monotonic() at which a retry is due

    def __repr__(self) -> str:
        # masked: a key may be a BSN (a person found by BSN), and a repr ends up in tracebacks
        return redact.text(f"Pending(key={self.ledger_key!r}, source_key={self.record.key!r}, "
                           f"attempts={self.attempts}, ready_at={self.ready_at})")

    @property
    def hash(self) -> str:
        if self.digest is None:
            item = self.item
            self.digest = item.hash if isinstance(item, KeyedItem) else payload_hash(item.payload)
        return self.digest


@dataclass
class LaneResult:
    result: BatchResult = field(default_factory=BatchResult)
    delivered: list[tuple[Pending, Outcome]] = field(default_factory=list)
    interrupted: bool = False


class TargetLane:
    def __init__(self, *, name: str, target: Target | None, spec, mapping: Callable | None, mapping_version: str | None,
                 key_of: Callable[[Record], str], policy, ledger_lookup: Callable[[list[str]], dict],
                 sleeper: Sleeper, metrics=None, interface_id: int = 0) -> None:
        self.name = name
        self.target: Target = target  # type: ignore[assignment] # None only in lanes that never write (dry-run)
        self.spec = spec
        self.mapping = mapping
        self.mapping_version = mapping_version
        self.key_of = key_of
        self.policy = policy
        self.backoff = Backoff.from_policy(policy.retries)
        self.ledger_lookup = ledger_lookup
        self.sleeper = sleeper
        self.metrics = metrics
        self.interface_id = interface_id
        self.checkpoint: Checkpoint | None = None

    # -- mapping -------------------------------------------------------------------------------

    def map_all(self, records: Sequence[Record]) -> list[tuple[Any, Exception | None]]:
        """(payload, None) or (None, error) per record, in order, from a mapping that declares
        ``parallel``: it maps the batch on every core (CompiledMapping.map_many: ECK-iD's scrypt).
        Any other mapping is called record by record in ``prepare``."""
        return self.mapping.map_many([r.data for r in records])  # type: ignore[union-attr]

    def prepare(self, records: Sequence[Record], result: BatchResult, counts: dict) -> list[Pending]:
        """Map, validate and key each record: a Pending for each record to send; dead letters
        (in ``result``) for the records that fail; the filtered counted. One loop per batch with
        the mapping's callables looked up once (what ``map`` does per record, without a call)."""
        mapping = self.mapping
        parallel = mapping is not None and getattr(mapping, "parallel", False)
        mapped = self.map_all(records) if parallel else None
        validate = getattr(mapping, "validate", None) if mapping is not None else None
        key_of = self.key_of
        ledger = self.policy.ledger
        pending: list[Pending] = []
        append = pending.append
        n_mapped = n_filtered = 0
        try:
            for i, record in enumerate(records):
                failure: Exception | None = None
                if mapped is not None:
                    payload, failure = mapped[i]
                elif mapping is None:
                    payload = record.data
                else:
                    try:
                        payload = mapping(record.data)
                        if payload is not None and validate is not None:
                            validate(payload)
                    except Exception as exc:  # noqa: BLE001 - decided below: stop or dead letter
                        payload, failure = None, exc
                try:
                    key = key_of(record)
                    if failure is not None:
                        raise failure
                except ConfigError:
                    raise
                except Exception as exc:  # noqa: BLE001 - one bad record never stops the others
                    stage = "validation" if type(exc).__name__ == "ContractError" else "mapping"
                    result.dead.append(self._dead(stage, record, None, None, exc, attempts=1))
                    counts["dead"] += 1
                    continue
                if payload is None:
                    n_filtered += 1
                    continue
                n_mapped += 1
                # with a ledger, hashed now: before a target could change the payload it is given
                digest = payload_hash(payload) if ledger else None
                append(Pending(KeyedItem(key, digest, payload, record.key, record.operation, record.object),
                               record, digest, key))
        finally:
            counts["mapped"] += n_mapped
            counts["filtered"] += n_filtered
        return pending

    # -- delivery ------------------------------------------------------------------------------

    def process(self, records: Sequence[Record], counts: dict, *, skip_unchanged: bool | None = None,
                checkpoint: Checkpoint | None = None) -> LaneResult:
        """Deliver ``records`` to this lane's target; with a ``checkpoint`` the outcomes are made
        durable in steps while the batch goes on (runtime/engine/checkpoint.py)."""
        lane = LaneResult()
        self.checkpoint = checkpoint
        if checkpoint is not None:
            checkpoint.attach(self, lane)
        pending = self.prepare(records, lane.result, counts)
        if checkpoint is not None and len(pending) < len(records):  # mapped away or dead already: settled
            waiting = {id(p.record) for p in pending}
            checkpoint.ack_many([record for record in records if id(record) not in waiting])
        skip = self.policy.skip_unchanged if skip_unchanged is None else skip_unchanged
        known = self.ledger_lookup([p.ledger_key for p in pending]) if (self.policy.ledger and skip and pending) else {}
        waves = _waves(pending)
        for n, wave in enumerate(waves, 1):
            todo = wave
            if skip and known:  # what the ledger has, with this payload, delivered: settled as skipped
                todo, skipped = [], []
                for p in wave:
                    if known.get(p.ledger_key) == (p.hash, "delivered"):
                        skipped.append(p.record)
                    else:
                        todo.append(p)
                counts["skipped"] += len(skipped)
                if checkpoint is not None and skipped:
                    checkpoint.ack_many(skipped)
            try:
                self._deliver(todo, lane, counts, last=n == len(waves))
            except Interrupted:
                lane.interrupted = True
                return lane
            if n < len(waves):  # the next wave holds later changes of these keys
                for p, _ in lane.delivered:
                    known[p.ledger_key] = (p.hash, "delivered")
        return lane

    def _deliver(self, todo: list[Pending], lane: LaneResult, counts: dict, *, last: bool = True) -> None:
        """Send ``todo`` until every item is delivered or dead, each on its own retry clock.

        A failed item waits out its own backoff (or the peer's Retry-After) while the items that
        are not waiting go on: one 429 never holds up the records behind it. With a checkpoint,
        no more records are sent between two steps than the step holds (``commit_every``).
        """
        waiting: list[Pending] = []
        ready = todo
        checkpoint = self.checkpoint
        while ready or waiting:
            if not ready:
                now = time.monotonic()
                due = min(p.ready_at for p in waiting)
                if due > now and not self.sleeper.sleep(due - now):
                    raise Interrupted()
                now = time.monotonic()
                ready = [p for p in waiting if p.ready_at <= now]
                waiting = [p for p in waiting if p.ready_at > now]
                continue
            if checkpoint is not None:
                room = checkpoint.room()
                chunk, ready = ready[:room], ready[room:]
            else:
                chunk, ready = ready, []
            started = time.monotonic()
            at = utcnow()  # one clock reading per write: its items' first attempt
            for p in chunk:
                p.attempts += 1
                if p.first_at is None:
                    p.first_at = at
            outcomes = self._write(chunk)
            if self.metrics:
                self.metrics.write_latency(self.interface_id, self.name, time.monotonic() - started)
            retry = self._settle_all(chunk, outcomes, lane, counts)
            if retry:
                self._schedule(retry)
                waiting += retry
            if checkpoint is not None:  # last: this lane's last write of the batch
                checkpoint.tick(more=bool(ready or waiting) or not last)
            if self.sleeper.stopping and waiting and not ready:
                raise Interrupted()  # a drain: record what is settled, read the rest again later

    def _settle_all(self, chunk: list[Pending], outcomes: list[Outcome], lane: LaneResult,
                    counts: dict) -> list[Pending]:
        """Record the outcomes of one write; the items to retry. The delivered (most of them) are
        settled here in one loop, the failed by ``_settle``."""
        retry: list[Pending] = []
        delivered = lane.delivered
        rows = lane.result.deliveries if self.policy.ledger else None  # no ledger, no rows (nor hashes)
        acked: list[Record] = []
        lag = self.metrics is not None
        ok = 0
        try:
            for p, outcome in zip(chunk, outcomes):
                if outcome.error is None:
                    acked.append(p.record)
                    delivered.append((p, outcome))
                    if rows is not None:
                        rows.append(self._row(p, "delivered", outcome.reference))
                    ok += 1
                    if lag:
                        self._observe_lag(p.record)
                elif self._settle(p, outcome, lane, counts):
                    retry.append(p)
        finally:
            counts["delivered"] += ok
            if self.checkpoint is not None and acked:
                self.checkpoint.ack_many(acked)
        return retry

    def _settle(self, p: Pending, outcome: Outcome, lane: LaneResult, counts: dict) -> bool:
        """Record one failed item's outcome; True when it is to be retried."""
        err = outcome.error
        assert err is not None  # not ok
        if isinstance(err, ConfigError):
            raise err
        p.last_error = err
        if classify(err) == "record" or p.attempts >= self.backoff.max_attempts:
            lane.result.dead.append(self._dead("delivery", p.record, p, p.item.payload, err, p.attempts))
            if self.policy.ledger:
                lane.result.deliveries.append(self._row(p, "dead", None, err))
            counts["dead"] += 1
            if self.checkpoint is not None:
                self.checkpoint.ack(p.record)
            return False
        counts["failed"] += 1
        return True

    def _schedule(self, retry: list[Pending]) -> None:
        now = time.monotonic()
        for p in retry:
            p.ready_at = now + self.backoff.delay(p.attempts, p.last_error)
        first = min(retry, key=lambda p: p.ready_at)
        log.info("retrying %d record(s), the first in %.1fs", len(retry), first.ready_at - now,
                 extra={"interface": self.interface_id, "target": self.name, "attempt": first.attempts,
                        "error": error_text(first.last_error) if first.last_error else None})

    def _write(self, todo: list[Pending]) -> list[Outcome]:
        """One Outcome per item (the contract of ``runtime.plugin.Target.write``).

        A target that calls its peer once per item reports each call's error in that item's
        Outcome. A target that writes the items together (an array, one transaction) may raise
        instead: a RecordError is then isolated by sending the items one at a time, anything
        else fails every item of this write on its own retry clock, with a reason that names it.
        """
        items = [p.item for p in todo]
        try:
            with tracing.span("koppel.target.write", target=self.name, items=len(items)):
                outcomes = self.target.write(items)
        except ConfigError:
            raise
        except RecordError as exc:
            if len(items) == 1:
                return [Outcome(error=exc)]
            # The plugin could not say which record it was: send them one by one to find it.
            return [self._write([p])[0] for p in todo]
        except Exception as exc:  # noqa: BLE001 - TransientError and the unexpected: retry the whole write
            return [Outcome(error=_whole_write_error(exc, p.record.key, len(items))) for p in todo]
        if len(outcomes) != len(items):
            raise ConfigError(f"target '{self.name}' returned {len(outcomes)} outcomes for {len(items)} items")
        return outcomes

    def _observe_lag(self, record: Record) -> None:
        """Commit-to-delivery latency, when the source says when the change happened."""
        if not self.metrics:
            return
        when = record.meta.get("changed_at") or record.meta.get("received_at")
        if when is None:
            return
        if isinstance(when, str):
            try:
                when = dt.datetime.fromisoformat(when)
            except ValueError:
                return
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        self.metrics.lag(self.interface_id, (utcnow() - when).total_seconds())

    # -- rows ----------------------------------------------------------------------------------

    def _row(self, p: Pending, status: str, reference: str | None, err: BaseException | None = None) -> DeliveryRow:
        # positional: the field order of DeliveryRow (a keyword call costs more, once per record)
        return DeliveryRow(self.name, p.ledger_key, p.hash, status, p.attempts, p.record.key,
                           error_text(err) if err else None, reference, self.mapping_version)

    def _dead(self, stage: str, record: Record, p: Pending | None, payload: Any, exc: BaseException, attempts: int) -> DeadLetterRow:
        if self.metrics:
            self.metrics.dead(self.interface_id, classify(exc))
        log.warning("dead letter (%s): %s", stage, error_text(exc),
                    extra={"interface": self.interface_id, "target": self.name, "error_class": classify(exc)})
        key = p.ledger_key if p else None
        if key is None:
            try:
                key = self.key_of(record)
            except Exception:  # noqa: BLE001 - a key that cannot be computed: the record key
                key = record.key
        return DeadLetterRow(stage=stage, record=record_dict(record), reason=own_reason(record, exc),
                             error_class=classify(exc), target=self.name, idempotency_key=key,
                             source_key=record.key, payload=payload, error_code=getattr(exc, "code", None),
                             attempts=attempts, first_attempt_at=p.first_at if p else None)


def _whole_write_error(exc: BaseException, key: str, n: int) -> TransientError:
    """The failure of a write of several items as one item's own error (the code stays a code)."""
    text = redact.text(exc.message)[:2000] if isinstance(exc, KoppelError) else error_text(exc)
    if n > 1:
        text = f"record {key}: the write of {n} records together failed: {text}"
    return TransientError(text, code=getattr(exc, "code", None), retry_after=getattr(exc, "retry_after", None))


def _waves(pending: list[Pending]) -> list[list[Pending]]:
    """Split into waves holding each key at most once, in the original order."""
    if len({p.ledger_key for p in pending}) == len(pending):  # the usual batch: every key once
        return [pending] if pending else []
    waves: list[list[Pending]] = []
    seen: dict[str, int] = {}
    for p in pending:
        n = seen.get(p.ledger_key, -1) + 1
        seen[p.ledger_key] = n
        if n == len(waves):
            waves.append([])
        waves[n].append(p)
    return waves
