"""The scheduler's claim logic: which run key a tick gets, that a key is claimed exactly once by
daemons racing for it (real SQLite and PostgreSQL state), and what ``fire`` does with each answer
(claimed elsewhere, busy, failed, done): the keys it tries, in order."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import engine_fakes as fakes
import pytest

from runtime.engine import scheduler as sched
from runtime.engine.pipeline import RunSummary
from runtime.engine.scheduler import (
    Scheduler,
    interval_origin,
    interval_trigger,
    last_fire_time,
    run_key,
)
from runtime.engine.state.store import StateStore
from tests import pgdb

AMS = ZoneInfo("Europe/Amsterdam")
UTC = dt.UTC


def test_a_cron_key_is_the_local_wall_time_and_an_interval_key_is_utc():
    tick = dt.datetime(2026, 7, 1, 2, 0, tzinfo=AMS)
    assert run_key(4, tick, "Europe/Amsterdam") == "4@2026-07-01T02:00:00"
    assert run_key(4, tick, None) == "4@2026-07-01T00:00:00Z"
    assert run_key(4, tick.astimezone(UTC), "Europe/Amsterdam") == "4@2026-07-01T02:00:00"
    assert run_key(12, dt.datetime(2026, 1, 5, 8, 30, 15, 999, tzinfo=UTC), None) == "12@2026-01-05T08:30:15Z"


def test_both_0200s_of_the_autumn_night_share_a_cron_key_but_not_an_interval_key():
    first = dt.datetime(2026, 10, 25, 0, 0, tzinfo=UTC)   # 02:00 CEST
    second = dt.datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 02:00 CET, an hour later
    assert run_key(4, first, "Europe/Amsterdam") == run_key(4, second, "Europe/Amsterdam") == "4@2026-10-25T02:00:00"
    assert run_key(4, first, None) != run_key(4, second, None)


def test_interval_origin():
    assert interval_origin() == dt.datetime(1970, 1, 1, tzinfo=AMS)
    assert interval_origin().astimezone(UTC) == dt.datetime(1969, 12, 31, 23, 0, tzinfo=UTC)
    naive = dt.datetime(2026, 3, 1, 6, 0)
    assert interval_origin(naive) == dt.datetime(2026, 3, 1, 6, 0, tzinfo=AMS)
    aware = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    assert interval_origin(aware) is aware


def test_last_fire_time_is_the_latest_tick_in_the_window_including_now():
    trigger = interval_trigger(60)
    now = dt.datetime(2026, 5, 4, 10, 0, 30, tzinfo=UTC)
    assert last_fire_time(trigger, now, 90) == dt.datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    on_the_tick = dt.datetime(2026, 5, 4, 10, 1, tzinfo=UTC)
    assert last_fire_time(trigger, on_the_tick, 90) == on_the_tick
    assert last_fire_time(trigger, now, 20) is None  # 10:00:00 is 30 s ago, outside a 20 s window
    every15 = interval_trigger(15)
    assert last_fire_time(every15, dt.datetime(2026, 5, 4, 10, 0, 44, tzinfo=UTC), 60) == \
        dt.datetime(2026, 5, 4, 10, 0, 30, tzinfo=UTC)


def _iface(trigger: dict) -> dict:
    return {"id": 4, "trigger": trigger, "source": {"type": "memory", "name": "x"},
            "targets": [{"type": "memtarget", "name": "tgt"}]}


def test_tick_key_names_the_tick_being_run_not_the_moment_it_runs(make_engine):
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface({"type": "interval", "every": "15s"})])
    s = Scheduler(engine)
    s.add_interfaces()
    late = dt.datetime(2026, 5, 4, 10, 0, 44, 500_000, tzinfo=UTC)
    assert s.tick_key(4, 15, late) == "4@2026-05-04T10:00:30Z"
    cron = make_engine([_iface({"type": "cron", "cron": "30 6 * * *"})])
    c = Scheduler(cron)
    c.add_interfaces()
    assert c.tick_key(4, 600, dt.datetime(2026, 5, 4, 4, 35, tzinfo=UTC)) == "4@2026-05-04T06:30:00"
    # no tick in the window (fired by hand, say): the minute it runs in
    assert c.tick_key(4, 60, dt.datetime(2026, 5, 4, 9, 7, 42, tzinfo=UTC)) == "4@2026-05-04T11:07:00"


@pytest.fixture(params=["sqlite", "postgresql"])
def state_urls(request, tmp_path):
    yield from pgdb.state_url(request.param, tmp_path, "claim")


def test_daemons_racing_for_one_tick_claim_it_exactly_once(state_urls):
    stores = [StateStore(state_urls) for _ in range(6)]
    try:
        barrier = threading.Barrier(len(stores))
        results: list[int | None] = [None] * len(stores)

        def race(i: int) -> None:
            barrier.wait()
            results[i] = stores[i].start_run(4, "cron", run_key="4@2026-05-04T06:30:00", holder=f"d{i}")

        threads = [threading.Thread(target=race, args=(i,)) for i in range(len(stores))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [r for r in results if r is not None]
        assert len(winners) == 1, results
        runs = stores[0].list_runs(4)
        assert [(r["run_key"], r["outcome"]) for r in runs] == [("4@2026-05-04T06:30:00", "running")]
        # another tick, and a retry of the same tick, are keys of their own
        assert stores[1].start_run(4, "cron", run_key="4@2026-05-04T06:31:00") is not None
        assert stores[2].start_run(4, "cron", run_key="4@2026-05-04T06:30:00~retry2") is not None
        assert stores[3].start_run(4, "cron", run_key="4@2026-05-04T06:30:00~retry2") is None
        assert stores[4].start_run(4, "manual") is not None and stores[5].start_run(4, "manual") is not None
    finally:
        for s in stores:
            s.close()


class Answers:
    """A stand-in for Engine.run_interface: the summaries to give, the keys it was asked for."""

    def __init__(self, *outcomes: tuple[str, str | None]) -> None:
        self.outcomes = list(outcomes)
        self.keys: list[str] = []

    def __call__(self, iid, trigger, run_key=None, **kw):
        self.keys.append(run_key)
        outcome, message = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        return RunSummary(iid, trigger, outcome, message=message)


@pytest.fixture
def firing(make_engine, monkeypatch):
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface({"type": "cron", "cron": "* * * * *"})])
    s = Scheduler(engine)
    s.add_interfaces()
    monkeypatch.setattr(s, "tick_key", lambda iid, grace, now=None: "4@2026-05-04T06:30:00")
    monkeypatch.setattr(sched, "RETRY_FIRST", 0.01)
    monkeypatch.setattr(sched, "RETRY_MAX", 0.04)

    def fire(answers: Answers, grace: float = 0.5) -> list[str]:
        monkeypatch.setattr(engine, "run_interface", answers)
        s.fire(4, grace)
        return answers.keys

    return s, fire


def test_a_tick_done_is_run_once(firing):
    s, fire = firing
    assert fire(Answers(("ok", None))) == ["4@2026-05-04T06:30:00"]
    assert s.statuses[4].failures == 0


def test_a_tick_claimed_by_another_daemon_is_not_run_again(firing):
    _s, fire = firing
    assert fire(Answers(("skipped", "run 4@2026-05-04T06:30:00 was claimed by another daemon"))) == [
        "4@2026-05-04T06:30:00"]


def test_a_failed_tick_is_retried_with_retry_keys_until_it_succeeds(firing):
    s, fire = firing
    keys = fire(Answers(("error", "source down"), ("error", "source down"), ("ok", None)))
    assert keys == ["4@2026-05-04T06:30:00", "4@2026-05-04T06:30:00~retry2", "4@2026-05-04T06:30:00~retry3"]
    assert s.statuses[4].failures == 0 and s.statuses[4].state == "running"  # a success clears the count


def test_a_tick_that_keeps_failing_is_given_up_when_the_grace_is_spent(firing):
    s, fire = firing
    keys = fire(Answers(("error", "source down")), grace=0.3)
    assert 3 <= len(keys) <= 12 and keys[0] == "4@2026-05-04T06:30:00"
    assert keys[1:] == [f"4@2026-05-04T06:30:00~retry{n}" for n in range(2, len(keys) + 1)]
    assert s.statuses[4].failures == len(keys)


def test_a_tick_whose_interface_is_busy_waits_and_tries_the_same_key(firing):
    _s, fire = firing
    keys = fire(Answers(("skipped", "a run of this interface is already in progress"), ("ok", None)), grace=5)
    assert keys == ["4@2026-05-04T06:30:00", "4@2026-05-04T06:30:00"]  # no ~retry: it never ran


def test_stopping_ends_the_retries(firing):
    s, fire = firing
    s.stopping.set()
    assert fire(Answers(("ok", None))) == []
