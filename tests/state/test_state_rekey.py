"""Rotation: records sealed under key 1, key 2 added in front, ``rekey`` run while deliveries go
on; afterwards everything opens with key 2 alone and nothing was lost."""

from __future__ import annotations

import threading

import engine_fakes as fakes
import pytest
from state_helpers import scan, with_keys
from sqlalchemy import create_engine, text

from runtime.engine import Engine
from runtime.engine.state import StateStore, crypto
from runtime.engine.state.rekey import rekey
from runtime.errors import ConfigError
from runtime.plugin import Record


def _iface():
    return {"id": 7, "source": {"type": "memory", "name": "src"}, "targets": [{"type": "memtarget", "name": "tgt"}],
            "delivery": {"batch_size": 5, "retries": {"max_attempts": 1, "initial_delay": 0.001, "max_delay": 0.001}}}


def _add(n0: int, n: int) -> None:
    fakes.SOURCES["src"].extend(Record(key=f"s{i}", data={"id": f"s{i}", "secret": f"person-{i}"}, object="student")
                                for i in range(n0, n0 + n))
    fakes.TARGETS["tgt"].reject.update(f"s{i}" for i in range(n0, n0 + n) if i % 2)


def _engine(tmp_path, url, key_files, *keys):
    reg = fakes.registry()
    return Engine(with_keys(fakes.make_project(tmp_path, reg, [_iface()]), key_files, *keys), reg, "sandbox",
                  state_url=url)


def _sealed_under(url: str) -> dict[str, int]:
    """Key id (or 'plain') → how many stored payload values carry it."""
    engine = create_engine(url)
    seen: dict[str, int] = {}
    with engine.connect() as c:
        for table, column in (("koppel_dead_letters", "record"), ("koppel_dead_letters", "payload"),
                              ("koppel_inbox", "body")):
            for (value,) in c.execute(text(f"SELECT CAST({column} AS TEXT) FROM {table}")):
                kid = value.strip('"').split(":")[1] if value.startswith('"kp1:') else "plain"
                seen[kid] = seen.get(kid, 0) + 1
    engine.dispose()
    return seen


def test_rekey_while_deliveries_go_on_leaves_everything_readable_with_the_new_key_alone(tmp_path, state_url, key_files):
    fakes.SOURCES["src"] = []
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    reg = fakes.registry()
    plain = Engine(fakes.make_project(tmp_path, reg, [_iface()]), reg, "sandbox", state_url=state_url)
    _add(0, 6)  # rows from before encryption
    plain.run_interface(7)
    plain.store.inbox_add(7, "w0", {"n": 0})
    plain.close()
    old = _engine(tmp_path, state_url, key_files, "k1")
    _add(6, 30)
    old.run_interface(7)
    for i in range(1, 21):
        old.store.inbox_add(7, f"w{i}", {"n": i})
    old.close()
    assert _sealed_under(state_url) == {"plain": 6 + 1, "k1": 30 + 20}  # 3 + 15 letters, record and payload each

    engine = _engine(tmp_path, state_url, key_files, "k2", "k1")
    stop, written = threading.Event(), []

    def deliveries():
        n = 36
        while not stop.is_set():
            _add(n, 4)
            engine.run_interface(7, lease_wait=5)
            engine.store.inbox_add(7, f"w{n}", {"n": n})
            written.append(n)
            n += 4

    writer = threading.Thread(target=deliveries)
    writer.start()
    try:
        while not written and writer.is_alive():  # deliveries under way before the rekey starts
            stop.wait(0.01)
        during = len(written)
        # a short pause per batch keeps the rekey going across several delivery rounds
        done = rekey(engine.store, batch=3, progress=lambda table, n: stop.wait(0.02))
        during = len(written) - during
    finally:
        stop.set()
        writer.join(30)
    assert done["koppel_dead_letters"] == 3 + 15 and done["koppel_inbox"] == 21
    assert during >= 1, "no delivery round ran during the rekey"

    crypto.configure(crypto.Keyring((("k2", crypto.decode_key("k2", key_files["k2"].read_text())),)))
    total = 36 + 4 * len(written)
    letters = engine.store.dead_letters(interface_id=7, limit=10_000)
    assert sorted(int(d["source_key"][1:]) for d in letters) == [i for i in range(total) if i % 2]
    assert all(d["record"]["data"]["secret"] == f"person-{d['source_key'][1:]}" for d in letters)
    bodies = engine.store.inbox_after(7, 0, 10_000)
    assert sorted(b["body"]["n"] for b in bodies) == sorted([*range(21), *written])
    assert set(_sealed_under(state_url)) == {"k2"}
    assert scan(state_url, ['"kp1:k1:', "person-"]) == []
    engine.close()


def test_rekey_without_keys_says_so(tmp_path):
    store = StateStore(f"sqlite:///{tmp_path / 's.db'}")
    crypto.configure(None)
    with pytest.raises(ConfigError, match=r"koppel state rekey: catalog\.yaml has no state\.keys"):
        rekey(store)
    store.close()
