"""The ids of accepted calls (runtime/engine/inbound/replay.py) on SQLite and PostgreSQL: one of
N simultaneous identical calls is stored, the others are told it was a repeat; ids are kept per
interface and channel; a call without an id is always stored; old ids are pruned."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from inbound_helpers import postgres_database

from runtime.engine.inbound import replay
from runtime.engine.state import StateStore
from tests.fakeclock import patch_for_this_thread


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'state.db'}", None
    else:
        made = postgres_database()
        if made is None:
            pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
        url, drop = made
    state = StateStore(url)
    yield state
    state.close()
    if drop:
        drop()


def rows(key: str) -> list[tuple]:
    return [(key, {"aanmeldId": key}, "upsert", None)]


def test_simultaneous_identical_calls_store_one(store):
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: replay.store_once(store, 6, rows("A1"), message_id="msg_1"), range(8)))
    assert sorted(outcomes) == [False] * 7 + [True]
    assert [r["key"] for r in store.inbox_after(6, 0, 100)] == ["A1"]


def test_ids_are_per_interface_and_channel_and_a_call_without_id_is_always_stored(store):
    assert replay.store_once(store, 6, rows("A1"), message_id="msg_1")
    assert replay.store_once(store, 23, rows("B1"), message_id="msg_1")  # another interface
    assert replay.store_once(store, 6, rows("C1"), message_id="msg_1", channel="callback:x")  # another channel
    assert not replay.store_once(store, 6, rows("A2"), message_id="msg_1")
    assert replay.store_once(store, 6, rows("A3"), message_id=None) and replay.store_once(store, 6, rows("A3"), message_id=None)
    assert [r["key"] for r in store.inbox_after(6, 0, 100)] == ["A1", "A3", "A3"]
    long_id = "m" * 5000  # the sender's id, whatever its length, is kept as its hash
    assert replay.store_once(store, 6, rows("A4"), message_id=long_id)
    assert not replay.store_once(store, 6, rows("A5"), message_id=long_id)


def test_ids_older_than_a_week_are_pruned(store, monkeypatch):
    old = replay.utcnow() - replay.KEEP - dt.timedelta(minutes=1)
    with store.engine.begin() as c:
        c.execute(replay.inbound_ids.insert().values(interface_id=6, channel="", message_id="msg_old", received_at=old))
    monkeypatch.setitem(replay._pruned, "at", 0.0)
    patch_for_this_thread(monkeypatch, replay.time, "monotonic", lambda: replay.PRUNE_EVERY + 1.0)
    assert replay.store_once(store, 6, rows("A1"), message_id="msg_new")
    with store.engine.connect() as c:
        kept = [r.message_id for r in c.execute(replay.inbound_ids.select())]
    assert kept == ["msg_new"]
