"""The lane's promises to its user, one target at a time (issue 19: runtime/engine/lane.py).

What an operator relies on: which records reach the target and with which payload and key, in
which order and after which waits; which become dead letters, with which stage, class, reason,
attempts and stored record; what the ledger rows say; what a step of a checkpoint stores; what
the metrics and the retry log line show. The lane is driven directly with a scripted peer and a
fake clock, so a retry wait takes no real time and every wait the lane asks for is seen.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from types import SimpleNamespace

import engine_fakes as fakes
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runtime.engine import lane as lane_module
from runtime.engine import tracing
from runtime.engine.checkpoint import Checkpoint
from runtime.engine.lane import TargetLane, error_text, own_reason, payload_hash, record_dict, record_from_dict
from runtime.engine.metrics import Metrics
from runtime.errors import ConfigError, ContractError, KoppelError, MappingError, RecordError, TransientError
from runtime.models.interface import DeliveryPolicy
from runtime.plugin import Batch, Item, Outcome, Record, Target

BSN = "111222333"  # passes the elfproef: masked as *****2333
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


# -- the harness -------------------------------------------------------------------------------


class Clock:
    """time.monotonic, utcnow and the Sleeper at once: a wait moves the clock, nothing sleeps.

    ``stop_at_sleep``: a drain arrives during the n-th wait (1-based). A lane that loops without
    waiting is stopped by the guard rather than left to spin until the test's timeout.
    """

    def __init__(self, stop_at_sleep: int | None = None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.stopping = False
        self.stop_at_sleep = stop_at_sleep
        self.reads = 0

    def monotonic(self) -> float:
        self.reads += 1
        if self.reads > 5000:
            raise AssertionError("the lane loops without waiting")
        return self.now

    def utcnow(self) -> dt.datetime:
        return T0 + dt.timedelta(seconds=self.now - 1000.0)

    def sleep(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        if self.stop_at_sleep == len(self.sleeps):
            self.stopping = True
            return False
        self.now += seconds
        return True


class Peer(Target):
    """A peer answering each record by a script: source key → its answers per attempt (an
    exception is that attempt's error, anything past the list is accepted). ``raises(items)``
    may return an exception that the whole write raises instead."""

    def __init__(self, script: dict | None = None, raises=None, clock: Clock | None = None) -> None:
        self.script = script or {}
        self.raises = raises
        self.clock = clock
        self.writes: list[list[str]] = []  # the source keys of each call
        self.items: list[Item] = []  # every item sent, in order
        self.accepted: list[tuple[str, object]] = []  # (source key, payload) the peer applied
        self.sent_at: dict[str, list[float]] = {}
        self.tries: dict[str, int] = {}

    def write(self, items: Sequence[Item]) -> list[Outcome]:
        self.writes.append([i.source_key for i in items])
        self.items += items
        for i in items:
            self.sent_at.setdefault(i.source_key, []).append(self.clock.now if self.clock else 0.0)
        if self.raises is not None:
            exc = self.raises(items)
            if exc is not None:
                raise exc
        out = []
        for item in items:
            n = self.tries[item.source_key] = self.tries.get(item.source_key, 0) + 1
            answers = self.script.get(item.source_key, [])
            answer = answers[n - 1] if n <= len(answers) else None
            if isinstance(answer, BaseException):
                out.append(Outcome(error=answer))  # type: ignore[arg-type]
            else:
                self.accepted.append((item.source_key, item.payload))
                out.append(Outcome(reference=f"ref-{item.source_key}"))
        return out


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(lane_module, "time", SimpleNamespace(monotonic=c.monotonic))
    monkeypatch.setattr(lane_module, "utcnow", c.utcnow)
    return c


def make_lane(target, clock, *, mapping=None, key_of=None, known: dict | None = None, metrics=None,
              lookups: list | None = None, **policy) -> TargetLane:
    retries = {"max_attempts": 3, "initial_delay": 1, "max_delay": 60, "multiplier": 2, "jitter": False}
    retries.update(policy.pop("retries", {}))
    stored = known or {}

    def ledger_lookup(keys: list[str]) -> dict:
        if lookups is not None:
            lookups.append(list(keys))
        return {k: stored[k] for k in keys if k in stored}

    return TargetLane(name="peer", target=target, spec=None, mapping=mapping, mapping_version="studenten@3",
                      key_of=key_of or (lambda r: str(r.key)), policy=DeliveryPolicy.model_validate({**policy, "retries": retries}),
                      ledger_lookup=ledger_lookup, sleeper=clock, metrics=metrics, interface_id=4)


def counts() -> dict:
    return dict.fromkeys(("read", "mapped", "filtered", "skipped", "delivered", "failed", "dead"), 0)


def run(lane: TargetLane, records, **kwargs):
    c = counts()
    result = lane.process(records, c, **kwargs)
    return result, c


def dead_by_key(result) -> dict:
    return {d.source_key: d for d in result.result.dead}


def rows_by_key(result) -> dict:
    return {r.source_key: r for r in result.result.deliveries}


def transient(text: str = "503 from peer", retry_after: float | None = None) -> TransientError:
    return TransientError(text, code="503", retry_after=retry_after)


def sample(metrics: Metrics, name: str, **labels) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


# -- the stored record, the payload hash, the texts --------------------------------------------


def test_a_stored_record_comes_back_as_it_was_read():
    record = Record(key="s1", data={"id": "s1", "naam": "Zoë"}, object="student", operation="delete",
                    meta={"seq": 17, "changed_at": "2026-12-01T09:00:00+00:00"})
    stored = record_dict(record)
    assert stored == {"key": "s1", "data": {"id": "s1", "naam": "Zoë"}, "object": "student", "operation": "delete",
                      "meta": {"seq": 17, "changed_at": "2026-12-01T09:00:00+00:00"}}
    assert record_from_dict(stored) == record


def test_a_stored_record_without_the_optional_fields_replays_as_an_empty_upsert():
    # letters stored by older releases, or by sources that had no data or meta for the record
    assert record_from_dict({"key": "s1"}) == Record(key="s1", data={}, object=None, operation="upsert", meta={})
    bare = record_from_dict({"key": "s2", "data": None, "object": "student", "meta": None})
    assert (bare.data, bare.meta, bare.object, bare.operation) == ({}, {}, "student", "upsert")


def test_the_payload_hash_is_the_sha256_of_the_canonical_json_so_ledgers_stay_valid():
    # the ledger holds these hashes across releases: a change of the form re-sends every record
    canonical = '{"geboren":"2008-05-01","n":1,"naam":"Zoë","vakken":["ne","en"]}'
    payload = {"naam": "Zoë", "n": 1, "vakken": ["ne", "en"], "geboren": dt.date(2008, 5, 1)}
    assert payload_hash(payload) == hashlib.sha256(canonical.encode()).hexdigest()
    assert payload_hash({"n": 1, "naam": "Zoë"}) == payload_hash({"naam": "Zoë", "n": 1})
    assert payload_hash({"n": 1}) != payload_hash({"n": 2})


def test_the_payload_hash_is_the_same_without_jsons_c_accelerator(monkeypatch):
    payload = {"naam": "Zoë", "n": 1, "vakken": ["ne", "en"], "geboren": dt.date(2008, 5, 1)}
    fast = payload_hash(payload)
    monkeypatch.setattr(lane_module, "_canonical", None)
    assert payload_hash(payload) == fast == payload_hash({"vakken": ["ne", "en"], "geboren": "2008-05-01", "n": 1, "naam": "Zoë"})


def test_the_payload_hash_writes_what_json_writes_and_refuses_what_json_refuses():
    # NaN and Infinity as json.dumps writes them; a key JSON cannot hold is an error, never
    # dropped (two payloads differing only there would hash alike and the change be skipped)
    assert payload_hash({"cijfer": float("nan"), "max": float("inf")}) == hashlib.sha256(
        b'{"cijfer":NaN,"max":Infinity}').hexdigest()
    with pytest.raises(TypeError):
        payload_hash({("a", 1): "x"})


def test_the_encoder_made_for_this_python_writes_the_canonical_text(monkeypatch):
    # the encoder is made once at import; made again here, so what it writes is checked
    monkeypatch.setattr(lane_module, "_canonical", lane_module._canonical_encoder())
    assert lane_module._canonical is not None
    cases = [
        ({"naam": "Zoë", "n": 1, "vakken": ["ne", "en"], "geboren": dt.date(2008, 5, 1)},
         '{"geboren":"2008-05-01","n":1,"naam":"Zoë","vakken":["ne","en"]}'),
        ({"z": {"b": None, "a": True}, "cijfer": float("nan")}, '{"cijfer":NaN,"z":{"a":true,"b":null}}'),
        ("Zoë", '"Zoë"'),
    ]
    for payload, text in cases:
        assert payload_hash(payload) == hashlib.sha256(text.encode()).hexdigest(), text
    with pytest.raises(TypeError):
        payload_hash({("a", 1): "x"})


def test_without_jsons_c_accelerator_the_hash_falls_back_to_json_dumps(monkeypatch):
    from json import encoder

    with monkeypatch.context() as m:  # a json module without the name at all
        m.delattr(encoder, "c_make_encoder")
        assert lane_module._canonical_encoder() is None
    monkeypatch.setattr(encoder, "c_make_encoder", None)  # as json itself has it then
    monkeypatch.setattr(lane_module, "_canonical", lane_module._canonical_encoder())
    assert lane_module._canonical is None
    assert payload_hash({"n": 1, "naam": "Zoë"}) == hashlib.sha256('{"n":1,"naam":"Zoë"}'.encode()).hexdigest()


def test_an_error_is_shown_masked_with_its_code_or_its_class_name():
    assert error_text(TransientError(f"peer down for {BSN}", code="503")) == "peer down for *****2333 [503]"
    assert error_text(ValueError(f"bad value {BSN}")) == "ValueError: bad value *****2333"
    assert error_text(RecordError("x" * 5000)) == "x" * 2000


def test_a_reason_names_its_own_record_once_and_masks_a_bsn_key():
    record = Record(key="s7", data={})
    assert own_reason(record, RecordError("refused", code="422")) == "record s7: refused [422]"
    assert own_reason(record, RecordError("record s7 has no crebo")) == "record s7 has no crebo"
    assert own_reason(Record(key=BSN, data={}), RecordError("refused")) == "record *****2333: refused"
    long = own_reason(record, RecordError("y" * 5000))
    assert long.startswith("record s7: yyy") and len(long) == 2000


# -- mapping and preparing ---------------------------------------------------------------------


def test_the_peer_gets_the_mapped_payload_under_key_and_hash_with_operation_and_object(clock):
    peer = Peer()

    def mapping(data):
        return {"nummer": data["id"], "naam": data["name"]}

    lane = make_lane(peer, clock, mapping=mapping, key_of=lambda r: f"K-{r.key}")
    record = Record(key="s1", data={"id": "s1", "name": "Zoë"}, object="student", operation="delete")
    result, c = run(lane, [record])
    [item] = peer.items
    payload = {"nummer": "s1", "naam": "Zoë"}
    assert item == Item(key=f"K-s1:{payload_hash(payload)[:16]}", payload=payload, source_key="s1",
                        operation="delete", object="student")
    assert item != Item(key=f"K-s1:{payload_hash(payload)[:16]}", payload=payload, source_key="s1", object="student")
    row = rows_by_key(result)["s1"]
    assert (row.target, row.idempotency_key, row.payload_hash, row.status, row.attempts) == (
        "peer", "K-s1", payload_hash(payload), "delivered", 1)
    assert (row.reference, row.last_error, row.mapping_version) == ("ref-s1", None, "studenten@3")
    assert (c["mapped"], c["delivered"], c["dead"], c["filtered"]) == (1, 1, 0, 0)
    assert [(p.record.key, o.reference) for p, o in result.delivered] == [("s1", "ref-s1")]


def test_without_a_mapping_the_source_data_is_sent(clock):
    peer = Peer()
    records = fakes.records(2)
    run(make_lane(peer, clock), records)
    assert peer.accepted == [("s0", records[0].data), ("s1", records[1].data)]


def test_a_mapping_failure_is_a_dead_letter_and_the_others_go_on(clock):
    peer = Peer()
    metrics = Metrics()

    def mapping(data):
        if data["n"] == 1:
            raise MappingError(f"unknown code for {BSN}", path="name")
        return {"nummer": data["id"]}

    lane = make_lane(peer, clock, mapping=mapping, metrics=metrics, key_of=lambda r: f"K-{r.key}")
    records = fakes.records(3)
    result, c = run(lane, records)
    assert peer.accepted == [("s0", {"nummer": "s0"}), ("s2", {"nummer": "s2"})]
    [letter] = result.result.dead
    assert (letter.stage, letter.error_class, letter.source_key, letter.idempotency_key) == ("mapping", "record", "s1", "K-s1")
    assert letter.reason == "record s1: name: unknown code for *****2333"
    assert (letter.payload, letter.attempts, letter.first_attempt_at, letter.target) == (None, 1, None, "peer")
    assert letter.record == record_dict(records[1])
    assert (c["dead"], c["mapped"], c["delivered"]) == (1, 2, 2)
    assert sample(metrics, "koppel_errors_total", interface="4", error_class="record") == 1
    assert "s1" not in rows_by_key(result)  # a mapping failure leaves no ledger row


def test_a_bug_in_a_mapping_is_a_dead_letter_not_a_crash(clock):
    def mapping(data):
        if data["n"] == 1:
            raise KeyError("crebo")
        return data

    result, c = run(make_lane(Peer(), clock, mapping=mapping), fakes.records(2))
    [letter] = result.result.dead
    assert (letter.stage, letter.error_class, letter.error_code) == ("mapping", "transient", None)
    assert letter.reason == "record s1: KeyError: 'crebo'"
    assert (c["dead"], c["delivered"]) == (1, 1)


def test_a_contract_failure_is_a_validation_dead_letter_and_a_filtered_record_is_not_validated(clock):
    peer = Peer()
    validated = []

    def mapping(data):
        return None if data["n"] == 0 else {"nummer": data["id"], "n": data["n"]}

    def validate(out):
        validated.append(out["nummer"])
        if out["n"] == 2:
            raise ContractError("'crebo' is required", path="crebo")

    mapping.validate = validate
    result, c = run(make_lane(peer, clock, mapping=mapping), fakes.records(4))
    assert validated == ["s1", "s2", "s3"]
    assert [k for k, _ in peer.accepted] == ["s1", "s3"]
    assert [(d.stage, d.source_key, d.error_class) for d in result.result.dead] == [("validation", "s2", "record")]
    assert (c["filtered"], c["mapped"], c["dead"], c["delivered"]) == (1, 2, 1, 2)


def test_a_record_whose_key_cannot_be_computed_is_a_dead_letter_under_its_source_key(clock):
    peer = Peer()

    def key_of(record):
        if record.key == "s1":
            raise RecordError("idempotency key 'studentnummer' is empty for this record")
        return record.key

    result, c = run(make_lane(peer, clock, key_of=key_of), fakes.records(3))
    [letter] = result.result.dead
    assert (letter.stage, letter.source_key, letter.idempotency_key, letter.error_class) == ("mapping", "s1", "s1", "record")
    assert [k for k, _ in peer.accepted] == ["s0", "s2"]


@pytest.mark.parametrize("where", ["mapping", "key"])
def test_a_configuration_error_while_preparing_stops_the_lane_before_anything_is_sent(clock, where):
    peer = Peer()

    def broken(value):
        raise ConfigError("mapping 'studenten' refers to an unknown table 'codes'")

    lane = make_lane(peer, clock, **({"mapping": broken} if where == "mapping" else {"key_of": broken}))
    with pytest.raises(ConfigError, match="unknown table 'codes'"):
        run(lane, fakes.records(3))
    assert peer.writes == []


def test_a_parallel_mapping_maps_the_whole_batch_at_once(clock):
    peer = Peer()
    seen = []

    class Parallel:
        parallel = True

        def __call__(self, data):
            raise AssertionError("mapped one by one")

        def map_many(self, datas):
            seen.append([d["id"] for d in datas])
            return [({"nummer": d["id"]}, None) if d["n"] != 1 else (None, MappingError("bad")) for d in datas]

    result, _ = run(make_lane(peer, clock, mapping=Parallel()), fakes.records(3))
    assert seen == [["s0", "s1", "s2"]]
    assert [k for k, _ in peer.accepted] == ["s0", "s2"]
    assert [d.source_key for d in result.result.dead] == ["s1"]


class SequentialMapping:
    """A compiled mapping that must be called record by record (``parallel = False``)."""

    parallel = False

    def __call__(self, data):
        return {"nummer": data["id"]}

    def map_many(self, datas):
        raise AssertionError("mapped as a batch")


def test_a_mapping_that_is_not_parallel_maps_record_by_record(clock):
    peer = Peer()

    run(make_lane(peer, clock, mapping=SequentialMapping()), fakes.records(2))
    assert peer.accepted == [("s0", {"nummer": "s0"}), ("s1", {"nummer": "s1"})]


# -- the ledger --------------------------------------------------------------------------------


def _delivered(record: Record) -> tuple[str, str]:
    return payload_hash(record.data), "delivered"


def test_a_record_delivered_before_with_the_same_payload_is_skipped(clock):
    peer = Peer()
    records = fakes.records(3)
    ledger = {"s0": _delivered(records[0]), "s1": ("0" * 64, "delivered"), "s2": (payload_hash(records[2].data), "dead")}
    result, c = run(make_lane(peer, clock, known=ledger), records)
    assert [k for k, _ in peer.accepted] == ["s1", "s2"]  # changed since, or never delivered
    assert (c["skipped"], c["delivered"]) == (1, 2)
    assert sorted(rows_by_key(result)) == ["s1", "s2"]


def test_skipping_follows_the_policy_unless_the_caller_overrides_it(clock):
    records = fakes.records(2)
    ledger = {r.key: _delivered(r) for r in records}
    off = Peer()
    assert run(make_lane(off, clock, known=ledger, skip_unchanged=False), records)[1]["skipped"] == 0
    assert len(off.accepted) == 2
    replay = Peer()  # a replay sends again whatever the ledger says
    assert run(make_lane(replay, clock, known=ledger), records, skip_unchanged=False)[1]["delivered"] == 2
    forced = Peer()
    assert run(make_lane(forced, clock, known=ledger, skip_unchanged=False), records, skip_unchanged=True)[1]["skipped"] == 2
    assert forced.writes == []


def test_without_a_ledger_every_record_is_sent_and_no_ledger_is_read(clock):
    records = fakes.records(2)
    lookups: list = []
    peer = Peer()
    _, c = run(make_lane(peer, clock, known={r.key: _delivered(r) for r in records}, lookups=lookups, ledger=False), records)
    assert (c["delivered"], c["skipped"]) == (2, 0) and lookups == []


def test_the_ledger_is_read_once_per_batch_for_the_records_to_send(clock):
    lookups: list = []

    def mapping(data):
        return None if data["n"] == 1 else data

    run(make_lane(Peer(), clock, mapping=mapping, lookups=lookups), fakes.records(3))
    assert lookups == [["s0", "s2"]]
    nothing: list = []
    _, c = run(make_lane(Peer(), clock, mapping=lambda data: None, lookups=nothing), fakes.records(3))
    assert nothing == []  # every record filtered out: no query
    assert (c["filtered"], c["mapped"], c["delivered"]) == (3, 0, 0)


def test_changes_of_one_key_go_out_in_order_in_later_writes(clock):
    peer = Peer()
    records = [Record(key=k, data={"id": k, "v": v}) for k, v in (("a", 1), ("b", 1), ("a", 2), ("c", 1), ("a", 3), ("b", 2))]
    _, c = run(make_lane(peer, clock), records)
    assert peer.writes == [["a", "b", "c"], ["a", "b"], ["a"]]
    assert [p["v"] for k, p in peer.accepted if k == "a"] == [1, 2, 3]
    assert c["delivered"] == 6


def test_a_later_change_back_to_the_stored_payload_is_still_sent(clock):
    # the ledger says v1 was delivered; the batch holds v2 then v1: after v2 goes out the target
    # holds v2, so v1 is a change again and must not be skipped
    v1, v2 = Record(key="a", data={"v": 1}), Record(key="a", data={"v": 2})
    peer = Peer()
    _, c = run(make_lane(peer, clock, known={"a": _delivered(v1)}), [v2, v1])
    assert [p["v"] for _, p in peer.accepted] == [2, 1] and c["skipped"] == 0
    again = Peer()
    _, c = run(make_lane(again, clock, known={"a": _delivered(v1)}), [v1, v2, v2])
    assert [p["v"] for _, p in again.accepted] == [2] and c["skipped"] == 2


def test_with_skipping_off_a_repeat_within_the_batch_is_sent_again(clock):
    peer = Peer()
    same = [Record(key="a", data={"v": 1}), Record(key="a", data={"v": 1})]
    _, c = run(make_lane(peer, clock, skip_unchanged=False), same)
    assert (c["delivered"], c["skipped"]) == (2, 0) and peer.writes == [["a"], ["a"]]
    skipping = Peer()
    _, c = run(make_lane(skipping, clock), same)
    assert (c["delivered"], c["skipped"]) == (1, 1) and skipping.writes == [["a"]]


def test_the_ledger_hash_and_the_wire_key_are_of_the_payload_as_mapped(clock):
    # a target that changes the payload it is given (adds a field before sending) must not
    # change what the ledger compares next time, nor the key a repeat is sent under
    class Changing(Peer):
        def write(self, items):
            for item in items:
                item.payload["sent"] = True
            return super().write(items)

    peer = Changing()
    mapped = {"nummer": "s0"}
    result, _ = run(make_lane(peer, clock, mapping=lambda d: {"nummer": d["id"]}), fakes.records(1))
    row = rows_by_key(result)["s0"]
    assert row.payload_hash == payload_hash(mapped)
    assert peer.items[0].key == f"s0:{payload_hash(mapped)[:16]}"


def test_without_a_ledger_the_wire_key_is_still_the_key_and_payload_hash(clock):
    peer = Peer()
    result, c = run(make_lane(peer, clock, ledger=False), fakes.records(1))
    assert peer.items[0].key == f"s0:{payload_hash(fakes.records(1)[0].data)[:16]}"
    assert result.result.deliveries == [] and c["delivered"] == 1


# -- retries -----------------------------------------------------------------------------------


def test_a_transient_failure_is_retried_after_its_backoff_and_then_delivered(clock):
    peer = Peer({"s1": [transient(), transient()]}, clock=clock)
    result, c = run(make_lane(peer, clock, retries={"max_attempts": 5, "initial_delay": 1.5}), fakes.records(3))
    assert clock.sleeps == [1.5, 3.0]
    assert peer.writes == [["s0", "s1", "s2"], ["s1"], ["s1"]]
    assert peer.sent_at["s1"] == [1000.0, 1001.5, 1004.5]
    assert (c["delivered"], c["failed"], c["dead"]) == (3, 2, 0)
    row = rows_by_key(result)["s1"]
    assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)
    assert not result.interrupted


def test_the_peers_retry_after_is_waited_for(clock):
    peer = Peer({"s0": [transient(retry_after=7)]})
    run(make_lane(peer, clock), fakes.records(1))
    assert clock.sleeps == [7.0]


def test_each_record_waits_on_its_own_clock(clock):
    # s1 must wait 5 s, s2 only 1 s: s2 goes first, alone, and s1 after the rest of its wait
    peer = Peer({"s1": [transient(retry_after=5)], "s2": [transient(retry_after=1)]}, clock=clock)
    _, c = run(make_lane(peer, clock, retries={"initial_delay": 0.5}), fakes.records(4))
    assert peer.writes == [["s0", "s1", "s2", "s3"], ["s2"], ["s1"]]
    assert clock.sleeps == [1.0, 4.0]
    assert peer.sent_at["s1"] == [1000.0, 1005.0] and peer.sent_at["s2"] == [1000.0, 1001.0]
    assert (c["delivered"], c["failed"]) == (4, 2)


def test_records_due_at_the_same_moment_are_retried_together(clock):
    peer = Peer({"s0": [transient()], "s1": [transient()]})
    run(make_lane(peer, clock), fakes.records(2))
    assert peer.writes == [["s0", "s1"], ["s0", "s1"]] and clock.sleeps == [1.0]


def test_a_record_whose_attempts_run_out_is_a_transient_dead_letter_with_its_history(clock):
    metrics = Metrics()
    failures = [transient(f"peer busy for {BSN}", retry_after=None) for _ in range(9)]
    peer = Peer({"s1": failures}, clock=clock)
    lane = make_lane(peer, clock, metrics=metrics, mapping=lambda d: {"nummer": d["id"]}, key_of=lambda r: f"K-{r.key}")
    result, c = run(lane, fakes.records(2))
    assert peer.sent_at["s1"] == [1000.0, 1001.0, 1003.0]  # max_attempts 3: three tries, two waits
    [letter] = result.result.dead
    assert (letter.stage, letter.error_class, letter.source_key, letter.idempotency_key) == ("delivery", "transient", "s1", "K-s1")
    assert (letter.attempts, letter.first_attempt_at, letter.error_code) == (3, T0, "503")
    assert letter.payload == {"nummer": "s1"} and letter.record == record_dict(fakes.records(2)[1])
    assert letter.reason == "record s1: peer busy for *****2333 [503]"
    row = rows_by_key(result)["s1"]
    assert (row.status, row.attempts, row.last_error, row.reference) == ("dead", 3, "peer busy for *****2333 [503]", None)
    assert (c["dead"], c["failed"], c["delivered"]) == (1, 2, 1)
    assert sample(metrics, "koppel_errors_total", interface="4", error_class="transient") == 1


def test_one_attempt_allowed_means_no_retry(clock):
    peer = Peer({"s0": [transient()]})
    result, c = run(make_lane(peer, clock, retries={"max_attempts": 1}), fakes.records(1))
    assert clock.sleeps == [] and (c["dead"], c["failed"]) == (1, 0)
    assert result.result.dead[0].attempts == 1


def test_a_refused_record_is_a_dead_letter_at_once_and_keeps_its_code(clock):
    peer = Peer({"s1": [RecordError("crebo 12345 unknown", code="422")]})
    result, c = run(make_lane(peer, clock), fakes.records(3))
    assert clock.sleeps == [] and peer.writes == [["s0", "s1", "s2"]]
    [letter] = result.result.dead
    assert (letter.error_class, letter.error_code, letter.attempts, letter.first_attempt_at) == ("record", "422", 1, T0)
    assert letter.reason == "record s1: crebo 12345 unknown [422]"
    assert (c["dead"], c["failed"], c["delivered"]) == (1, 0, 2)


def test_a_configuration_error_in_an_outcome_stops_the_lane(clock):
    peer = Peer({"s1": [ConfigError("credentials refused (401)")]})
    with pytest.raises(ConfigError, match="credentials refused"):
        run(make_lane(peer, clock), fakes.records(3))
    assert clock.sleeps == []


def test_a_zero_backoff_retries_at_once_without_waiting(clock):
    peer = Peer({"s0": [transient()]})
    _, c = run(make_lane(peer, clock, retries={"initial_delay": 0}), fakes.records(1))
    assert clock.sleeps == [] and c["delivered"] == 1 and peer.writes == [["s0"], ["s0"]]


def test_the_retry_log_line_says_how_many_wait_and_how_long_with_the_error_masked(clock, caplog):
    peer = Peer({"s0": [transient(f"busy for {BSN}", retry_after=5)], "s1": [transient(retry_after=2)]})
    with caplog.at_level(logging.INFO, logger="koppel.engine"):
        run(make_lane(peer, clock), fakes.records(3))
    [line] = [r for r in caplog.records if r.getMessage().startswith("retrying")]
    assert line.getMessage() == "retrying 2 record(s), the first in 2.0s"
    assert (line.interface, line.target, line.attempt, line.error) == (4, "peer", 1, "503 from peer [503]")
    assert line.levelno == logging.INFO


def test_the_retry_log_line_masks_the_error_of_the_first_record_due(clock, caplog):
    peer = Peer({"s0": [transient(f"busy for {BSN}")]})
    with caplog.at_level(logging.INFO, logger="koppel.engine"):
        run(make_lane(peer, clock), fakes.records(1))
    [line] = [r for r in caplog.records if r.getMessage().startswith("retrying")]
    assert line.getMessage() == "retrying 1 record(s), the first in 1.0s"
    assert line.error == "busy for *****2333 [503]"
    assert all(BSN not in str(r.__dict__) for r in caplog.records)


def test_a_dead_letter_is_logged_as_a_warning_with_its_class_and_masked_reason(clock, caplog):
    peer = Peer({"s0": [RecordError(f"refused {BSN}", code="422")]})
    with caplog.at_level(logging.INFO, logger="koppel.engine"):
        run(make_lane(peer, clock), fakes.records(1))
    [line] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert line.getMessage() == "dead letter (delivery): refused *****2333 [422]"
    assert (line.interface, line.target, line.error_class) == (4, "peer", "record")
    assert all(BSN not in str(r.__dict__) for r in caplog.records)


# -- a write of several items that fails as a whole ---------------------------------------------


def test_a_whole_write_that_fails_gives_each_record_its_own_reason_code_and_wait(clock):
    fails = {"n": 0}

    def raises(items):
        if fails["n"] < 1:
            fails["n"] += 1
            return TransientError(f"bulk endpoint unavailable for {BSN}", code="503", retry_after=9)
        return None

    peer = Peer(raises=raises)
    result, c = run(make_lane(peer, clock), fakes.records(3))
    assert peer.writes == [["s0", "s1", "s2"], ["s0", "s1", "s2"]]
    assert clock.sleeps == [9.0]  # the error's Retry-After holds for each record
    assert (c["delivered"], c["failed"], c["dead"]) == (3, 3, 0)


def test_a_whole_write_that_keeps_failing_names_each_record_and_the_write_once(clock):
    peer = Peer(raises=lambda items: TransientError(f"bulk endpoint unavailable for {BSN}", code="503"))
    result, c = run(make_lane(peer, clock, retries={"max_attempts": 1}), fakes.records(3))
    letters = dead_by_key(result)
    assert sorted(letters) == ["s0", "s1", "s2"]
    for key, letter in letters.items():
        assert letter.reason == f"record {key}: the write of 3 records together failed: bulk endpoint unavailable for *****2333 [503]"
        assert (letter.error_class, letter.error_code, letter.attempts) == ("transient", "503", 1)


def test_a_failed_write_of_one_record_is_that_records_own_error(clock):
    peer = Peer(raises=lambda items: TransientError("gateway timeout", code="504", retry_after=3))
    result, _ = run(make_lane(peer, clock, retries={"max_attempts": 2}), fakes.records(1))
    [letter] = result.result.dead
    assert letter.reason == "record s0: gateway timeout [504]" and letter.error_code == "504"
    assert clock.sleeps == [3.0]


def test_an_unexpected_exception_of_a_write_is_retried_then_kept_with_its_class_name(clock):
    peer = Peer(raises=lambda items: OSError(f"connection reset talking about {BSN}"))
    result, c = run(make_lane(peer, clock, retries={"max_attempts": 2}), fakes.records(2))
    letters = dead_by_key(result)
    assert letters["s0"].reason == "record s0: the write of 2 records together failed: OSError: connection reset talking about *****2333"
    assert (letters["s0"].error_class, letters["s0"].error_code) == ("transient", None)
    assert c["failed"] == 2 and clock.sleeps == [1.0]


def test_a_koppel_error_without_a_code_raised_by_a_write_is_retried(clock):
    peer = Peer(raises=lambda items: KoppelError("peer said no"))
    result, _ = run(make_lane(peer, clock, retries={"max_attempts": 1}), fakes.records(1))
    [letter] = result.result.dead
    assert (letter.reason, letter.error_code, letter.error_class) == ("record s0: peer said no", None, "transient")


def test_a_record_error_raised_for_a_whole_write_is_found_by_sending_one_by_one(clock):
    def raises(items):
        if any(i.source_key == "s2" for i in items):
            return RecordError("the batch holds a record without crebo", code="422")
        return None

    peer = Peer(raises=raises)
    result, c = run(make_lane(peer, clock), fakes.records(4))
    assert peer.writes == [["s0", "s1", "s2", "s3"], ["s0"], ["s1"], ["s2"], ["s3"]]
    assert [k for k, _ in peer.accepted] == ["s0", "s1", "s3"]
    [letter] = result.result.dead
    assert (letter.source_key, letter.error_class, letter.reason) == ("s2", "record", "record s2: the batch holds a record without crebo [422]")
    assert clock.sleeps == [] and (c["delivered"], c["dead"]) == (3, 1)


def test_a_configuration_error_raised_by_a_write_stops_the_lane(clock):
    peer = Peer(raises=lambda items: ConfigError("certificate expired"))
    with pytest.raises(ConfigError, match="certificate expired"):
        run(make_lane(peer, clock), fakes.records(2))
    assert peer.writes == [["s0", "s1"]]


def test_a_target_that_loses_an_outcome_stops_the_lane(clock):
    class Lossy(Peer):
        def write(self, items):
            return super().write(items)[1:]

    with pytest.raises(ConfigError) as caught:
        run(make_lane(Lossy(), clock), fakes.records(3))
    assert str(caught.value) == "target 'peer' returned 2 outcomes for 3 items"


# -- steps of a checkpoint, and a drain --------------------------------------------------------


def _checkpoint(records, every: int, c: dict) -> tuple[Checkpoint, list]:
    steps: list = []
    cp = Checkpoint(batch=Batch(records, cursor="end"), lanes=1, counts=c,
                    commit=lambda result, cursor, move: steps.append(
                        ([d.source_key for d in result.deliveries], [d.source_key for d in result.dead], cursor)),
                    write_back=lambda lane, delivered: [], ledger=True, every=every, interval=3600)
    return cp, steps


def test_a_step_covers_the_records_mapped_away_or_dead_before_any_send(clock):
    records = fakes.records(5)
    for i, r in enumerate(records):
        r.cursor = str(i + 1)

    def mapping(data):
        if data["n"] == 0:
            return None
        if data["n"] == 1:
            raise MappingError("bad")
        return data

    peer = Peer()
    c = counts()
    cp, steps = _checkpoint(records, 3, c)
    make_lane(peer, clock, mapping=mapping).process(records, c, checkpoint=cp)
    # s0 filtered and s1 dead are settled at once: the first write has room for one record only,
    # and the step after it stores the cursor past all three
    assert peer.writes == [["s2"], ["s3", "s4"]]
    assert steps == [(["s2"], ["s1"], "3")]


def test_no_more_records_are_sent_between_two_steps_than_a_step_holds(clock):
    records = fakes.records(5)
    peer = Peer({"s1": [transient()]})
    c = counts()
    cp, steps = _checkpoint(records, 2, c)
    result = make_lane(peer, clock).process(records, c, checkpoint=cp)
    # s0 settled, s1 waiting: room for one more before the step, then two
    assert peer.writes == [["s0", "s1"], ["s2"], ["s3", "s4"], ["s1"]]
    assert [s[0] for s in steps] == [["s0", "s2"], ["s3", "s4"]]
    assert c["delivered"] == 5 and not result.interrupted


def test_skipped_records_are_settled_for_the_step(clock):
    records = fakes.records(3)
    for i, r in enumerate(records):
        r.cursor = str(i + 1)
    peer = Peer()
    c = counts()
    cp, steps = _checkpoint(records, 2, c)
    make_lane(peer, clock, known={"s0": _delivered(records[0]), "s1": _delivered(records[1])}).process(
        records, c, checkpoint=cp)
    assert peer.writes == [["s2"]]
    assert steps == [(["s2"], [], "3")]


def test_records_that_fail_in_different_writes_are_all_retried(clock):
    records = fakes.records(3)
    peer = Peer({"s0": [transient()], "s1": [transient()]})
    c = counts()
    cp, _ = _checkpoint(records, 1, c)
    result = make_lane(peer, clock).process(records, c, checkpoint=cp)
    assert peer.writes == [["s0"], ["s1"], ["s2"], ["s0"], ["s1"]]
    assert (c["delivered"], c["failed"], c["dead"]) == (3, 2, 0) and not result.interrupted


def test_a_step_covers_a_record_the_peer_refused(clock):
    records = fakes.records(3)
    for i, r in enumerate(records):
        r.cursor = str(i + 1)
    peer = Peer({"s0": [RecordError("refused")]})
    c = counts()
    cp, steps = _checkpoint(records, 3, c)
    make_lane(peer, clock).process(records, c, checkpoint=cp)
    assert steps == [(["s0", "s1", "s2"], ["s0"], "3")]


def test_a_drain_during_a_retry_wait_stops_with_what_is_settled(monkeypatch):
    clock = Clock(stop_at_sleep=1)
    monkeypatch.setattr(lane_module, "time", SimpleNamespace(monotonic=clock.monotonic))
    records = [*fakes.records(3), Record(key="s1", data={"id": "s1", "v": 2})]
    peer = Peer({"s1": [transient()]})
    result, c = run(make_lane(peer, clock), records)
    assert result.interrupted
    assert [p.record.key for p, _ in result.delivered] == ["s0", "s2"]
    assert peer.writes == [["s0", "s1", "s2"]]  # the later change of s1 is not sent either
    assert result.result.dead == [] and (c["failed"], c["dead"]) == (1, 0)


def test_a_drain_lets_the_records_not_waiting_go_out_first(clock):
    records = fakes.records(4)
    peer = Peer({"s0": [transient()]})

    class Draining(Peer):
        def write(self, items):
            clock.stopping = True  # SIGTERM arrived during the first write
            return peer.write(items)

    c = counts()
    cp, _ = _checkpoint(records, 1, c)
    result = make_lane(Draining(), clock).process(records, c, checkpoint=cp)
    assert peer.writes == [["s0"], ["s1"], ["s2"], ["s3"]]
    assert result.interrupted and clock.sleeps == []
    assert [p.record.key for p, _ in result.delivered] == ["s1", "s2", "s3"]


def test_a_drain_with_nothing_waiting_finishes_the_batch(clock):
    clock.stopping = True
    peer = Peer()
    records = [*fakes.records(2), Record(key="s0", data={"v": 2})]
    result, c = run(make_lane(peer, clock), records)
    assert not result.interrupted and c["delivered"] == 3
    assert peer.writes == [["s0", "s1"], ["s0"]]


# -- metrics and traces ------------------------------------------------------------------------


def test_the_write_histogram_holds_the_time_the_peer_took(clock):
    metrics = Metrics()

    class Slow(Peer):
        def write(self, items):
            clock.now += 0.25
            return super().write(items)

    run(make_lane(Slow({"s0": [transient()]}), clock, metrics=metrics), fakes.records(2))
    assert sample(metrics, "koppel_target_write_seconds_count", interface="4", target="peer") == 2
    assert sample(metrics, "koppel_target_write_seconds_sum", interface="4", target="peer") == 0.5


def test_the_delivery_lag_is_measured_from_the_change(clock):
    metrics = Metrics()
    records = [
        Record(key="a", data={}, meta={"changed_at": (T0 - dt.timedelta(seconds=30)).isoformat()}),
        Record(key="b", data={}, meta={"received_at": T0 - dt.timedelta(seconds=4)}),
        Record(key="c", data={}, meta={"changed_at": "2026-12-01T08:59:50"}),  # no zone: UTC
        Record(key="d", data={}, meta={"changed_at": dt.datetime(2026, 12, 1, 8, 59, 58)}),
        Record(key="e", data={}, meta={"changed_at": "yesterday"}),  # not a time: not measured
        Record(key="f", data={}, meta={}),
        Record(key="g", data={}, meta={"changed_at": None, "received_at": (T0 - dt.timedelta(seconds=1)).isoformat()}),
    ]
    _, c = run(make_lane(Peer(), clock, metrics=metrics), records)
    assert c["delivered"] == 7
    assert sample(metrics, "koppel_delivery_lag_seconds_count", interface="4") == 5
    assert sample(metrics, "koppel_delivery_lag_seconds_sum", interface="4") == 30 + 4 + 10 + 2 + 1


def test_a_lane_without_metrics_delivers_all_the_same(clock):
    records = [Record(key="a", data={}, meta={"changed_at": T0.isoformat()}), *fakes.records(1)]
    peer = Peer({"s0": [RecordError("no")]})
    _, c = run(make_lane(peer, clock, metrics=None), records)
    assert (c["delivered"], c["dead"]) == (1, 1)


def test_each_write_is_one_span_naming_the_target_and_the_number_of_items(clock):
    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter))
    try:
        run(make_lane(Peer({"s1": [transient()]}), clock), fakes.records(3))
    finally:
        tracing.uninstall()
    spans = [(s.name, dict(s.attributes)) for s in exporter.get_finished_spans()]
    assert spans == [("koppel.target.write", {"koppel.target": "peer", "koppel.items": 3}),
                     ("koppel.target.write", {"koppel.target": "peer", "koppel.items": 1})]


# -- the lane's own mapping calls, the counts of a batch, the key of a dead letter ---------------


def test_a_configuration_error_while_mapping_stops_at_that_record_without_mapping_the_rest(clock):
    # a plain mapping (no `parallel`): mapped and keyed record by record, so a broken mapping
    # (an unknown code table) stops at the first record it fails on; the rest of a 500-record
    # batch is not mapped for nothing, nor is anything sent
    peer = Peer()
    mapped, keyed = [], []

    def mapping(data):
        mapped.append(data["id"])
        if data["n"] == 1:
            raise ConfigError("mapping 'studenten' refers to an unknown table 'codes'")
        return data

    def key_of(record):
        keyed.append(record.key)
        return record.key

    with pytest.raises(ConfigError, match="unknown table 'codes'"):
        run(make_lane(peer, clock, mapping=mapping, key_of=key_of), fakes.records(4))
    assert mapped == ["s0", "s1"] and keyed == ["s0", "s1"]
    assert peer.writes == []


def test_the_counts_of_a_batch_add_up_over_its_targets(clock):
    # the engine gives every lane of a batch the same counts (pipeline.py: batch_counts): the
    # run history says how many records were mapped and filtered for all targets together
    c = counts()
    records = fakes.records(3)
    make_lane(Peer(), clock, mapping=lambda d: None if d["n"] == 2 else d).process(records, c)
    make_lane(Peer(), clock, mapping=lambda d: None if d["n"] == 0 else d).process(records, c)
    assert (c["mapped"], c["filtered"], c["delivered"], c["dead"]) == (4, 2, 4, 0)


def test_a_dead_letter_keeps_the_key_its_record_was_sent_under_when_the_target_changed_it(clock):
    # without a mapping the payload is the source record's data; a target that moves a field
    # into its URL (pops it from the body) and is refused: the letter names the idempotency key
    # the record was sent and ledgered under, not one computed again from the changed data
    from runtime.engine.pipeline import Engine

    key_of = Engine.key_function(SimpleNamespace(delivery=SimpleNamespace(idempotency_key="studentnummer")))

    class PathTarget(Peer):
        def write(self, items):
            for item in items:
                item.payload.pop("studentnummer")
            return [Outcome(error=RecordError("student not found", code="404")) for _ in items]

    records = [Record(key="r1", data={"studentnummer": "123456", "naam": "Zoë"})]
    result, c = run(make_lane(PathTarget(), clock, key_of=key_of), records)
    [letter] = result.result.dead
    assert (letter.idempotency_key, letter.source_key, letter.stage) == ("123456", "r1", "delivery")
    assert rows_by_key(result)["r1"].idempotency_key == "123456"
    assert c["dead"] == 1


# -- the last write of a batch and its step ------------------------------------------------------


def test_the_last_write_of_a_batch_without_record_cursors_is_recorded_by_the_final_step_alone(clock):
    # records without cursors of their own: a step after the batch's last write would store no
    # cursor, and the batch's final step follows at once; one state commit for those rows, not two
    records = fakes.records(4)
    peer = Peer()
    c = counts()
    cp, steps = _checkpoint(records, 2, c)
    make_lane(peer, clock).process(records, c, checkpoint=cp)
    assert peer.writes == [["s0", "s1"], ["s2", "s3"]]
    assert steps == [(["s0", "s1"], [], None)]
    cp.step(final=True, complete=True)  # what pipeline.py does after the last lane
    assert steps == [(["s0", "s1"], [], None), (["s2", "s3"], [], "end")]


def test_a_write_that_ends_one_wave_but_not_the_batch_makes_its_step(clock):
    # a later change of a key goes out in the next wave: the batch is not over after the first
    # wave's last write, so a full step is recorded there and no more than `commit_every` (2)
    # records are ever sent between two steps
    records = [*fakes.records(2), Record(key="s0", data={"id": "s0", "v": 2})]
    peer = Peer()
    c = counts()
    cp, steps = _checkpoint(records, 2, c)
    make_lane(peer, clock).process(records, c, checkpoint=cp)
    assert peer.writes == [["s0", "s1"], ["s0"]]
    assert steps == [(["s0", "s1"], [], None)]
    cp.step(final=True, complete=True)
    assert steps[1] == (["s0"], [], "end")


def test_a_pending_records_repr_masks_a_bsn_key():
    """A person found by BSN is keyed by it; a Pending's repr lands in tracebacks and debug logs."""
    from runtime.engine.lane import Pending
    from runtime.plugin import Item, Record

    pending = Pending(Item(key="111222333", payload={}, source_key="111222333"), Record("111222333", {}), None,
                      "111222333", attempts=2)
    shown = repr(pending)
    assert "111222333" not in shown and "attempts=2" in shown and shown.startswith("Pending(")
