"""The payload hash is made once per record, and only when something reads it (issue 15).

With a ledger the hash is the ledger row's and the wire key's, made before the target sees the
payload (a target that changes it must not change what the ledger compares next run). Without a
ledger, a target that never reads ``Item.key`` (the db plugin's upserts) costs no hash at all, and
one that reads it (the rest plugin's Idempotency-Key) gets the same key as with a ledger.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.engine import lane as lane_module
from runtime.engine.lane import TargetLane, payload_hash
from runtime.engine.retry import Sleeper
from runtime.models.interface import DeliveryPolicy
from runtime.plugin import Item, Outcome, Record, Target


class Peer(Target):
    def __init__(self, read_keys: bool, mutate: bool = False) -> None:
        self.read_keys, self.mutate = read_keys, mutate
        self.keys: list[str] = []
        self.items: list[Item] = []

    def write(self, items):
        for item in items:
            if self.read_keys:
                self.keys.append(item.key)
            if self.mutate:
                item.payload["sent"] = True  # a target that annotates what it was given
            self.items.append(item)
        return [Outcome(reference=f"ref-{item.source_key}") for item in items]


@pytest.fixture
def hashes(monkeypatch) -> list:
    made: list = []

    def counting(payload):
        made.append(payload)
        return payload_hash(payload)

    monkeypatch.setattr(lane_module, "payload_hash", counting)
    return made


def lane(target: Target, **policy) -> TargetLane:
    return TargetLane(name="peer", target=target, spec=None, mapping=None, mapping_version=None,
                      key_of=lambda r: str(r.key), policy=DeliveryPolicy.model_validate(policy),
                      ledger_lookup=lambda keys: {}, sleeper=Sleeper())


def records(n: int = 3) -> list[Record]:
    return [Record(key=f"s{i}", data={"id": f"s{i}", "naam": f"Student {i}"}) for i in range(n)]


def counts() -> dict:
    return dict.fromkeys(("read", "mapped", "filtered", "skipped", "delivered", "failed", "dead"), 0)


def test_without_a_ledger_a_target_that_never_reads_the_key_costs_no_hash(hashes):
    peer = Peer(read_keys=False)
    result = lane(peer, ledger=False).process(records(), c := counts())
    assert c["delivered"] == 3 and len(peer.items) == 3
    assert hashes == []
    assert result.result.deliveries == []  # no ledger, no rows


def test_without_a_ledger_the_key_a_target_reads_is_the_same_as_with_one(hashes):
    with_ledger, without = Peer(read_keys=True), Peer(read_keys=True)
    lane(with_ledger, ledger=True).process(records(), counts())
    lane(without, ledger=False).process(records(), counts())
    expected = [f"s{i}:{payload_hash({'id': f's{i}', 'naam': f'Student {i}'})[:16]}" for i in range(3)]
    assert without.keys == with_ledger.keys == expected
    assert len(hashes) == 6  # once per record and lane, though the key was read and the row written


def test_with_a_ledger_the_row_keeps_the_hash_of_the_payload_before_the_target_changed_it(hashes):
    peer = Peer(read_keys=False, mutate=True)
    result = lane(peer, ledger=True).process(records(1), counts())
    [row] = result.result.deliveries
    assert row.payload_hash == payload_hash({"id": "s0", "naam": "Student 0"})
    assert peer.items[0].payload == {"id": "s0", "naam": "Student 0", "sent": True}


def test_a_repeat_of_one_key_in_a_batch_without_a_ledger_is_still_skipped_when_unchanged(hashes):
    peer = Peer(read_keys=False)
    same = [Record(key="s1", data={"id": "s1"}), Record(key="s1", data={"id": "s1"}),
            Record(key="s1", data={"id": "s1", "naam": "nieuw"})]
    lane(peer, ledger=False).process(same, c := counts())
    assert [i.payload for i in peer.items] == [{"id": "s1"}, {"id": "s1", "naam": "nieuw"}]
    assert c["skipped"] == 1 and c["delivered"] == 2


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.dates() | st.decimals(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12)


@given(_json)
def test_the_hash_is_that_of_the_canonical_json_the_ledger_has_always_stored(payload):
    # a different text would re-send every record once after an upgrade, under new keys
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    assert payload_hash(payload) == hashlib.sha256(text.encode()).hexdigest()
