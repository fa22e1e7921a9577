"""Cron in Europe/Amsterdam: classic weekday numbers, once per day across DST, claimed once."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import engine_fakes as fakes

from runtime.cronexpr import _weekday_field, cron_trigger
from runtime.engine.scheduler import Scheduler, last_fire_time, run_key

AMS = ZoneInfo("Europe/Amsterdam")


def _fires(expr: str, start: dt.datetime, n: int) -> list[dt.datetime]:
    t = cron_trigger(expr)
    out, prev = [], None
    now = start
    while len(out) < n:
        nxt = t.get_next_fire_time(prev, now)
        out.append(nxt)
        prev, now = nxt, nxt + dt.timedelta(seconds=1)
    return out


def test_weekday_zero_is_sunday_as_in_cron():
    assert _weekday_field("0") == "sun" and _weekday_field("7") == "sun"
    assert _weekday_field("1-5") == "mon-fri" and _weekday_field("0-2") == "sun,mon-tue"
    fire = _fires("0 2 * * 0", dt.datetime(2026, 11, 28, 12, tzinfo=AMS), 1)[0]
    assert fire.astimezone(AMS).strftime("%A %H:%M") == "Sunday 02:00"


def test_nightly_run_stays_at_local_time_across_dst():
    # clocks go forward on 28 March 2027: 03:00 local on both days, one hour less in UTC
    fires = _fires("0 3 * * *", dt.datetime(2027, 3, 26, 12, tzinfo=AMS), 2)
    assert [f.astimezone(AMS).hour for f in fires] == [3, 3]
    assert [f.astimezone(dt.UTC).hour for f in fires] == [2, 1]


def test_the_doubled_hour_in_autumn_runs_once():
    # on 25 October 2026 02:00-03:00 happens twice; APScheduler 3 fires at both 02:00s
    t = cron_trigger("0 2 * * *")
    first = dt.datetime(2026, 10, 25, 0, 0, tzinfo=dt.UTC)  # 02:00 CEST
    second = dt.datetime(2026, 10, 25, 1, 0, tzinfo=dt.UTC)  # 02:00 CET
    keys = {run_key(13, last_fire_time(t, when + dt.timedelta(seconds=5), 600), "Europe/Amsterdam")
            for when in (first, second)}
    assert keys == {"13@2026-10-25T02:00:00"}


def test_planned_and_realtime_interfaces_are_not_scheduled(make_engine):
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    base = {"source": {"type": "memory", "name": "x"}, "targets": [{"type": "memtarget", "name": "tgt"}]}
    engine = make_engine([
        {**base, "id": 4, "trigger": {"type": "cron", "cron": "0 2 * * 0"}},
        {**base, "id": 20, "status": "planned", "trigger": {"type": "cron", "cron": "0 2 * * *"}},
        {**base, "id": 21, "trigger": {"type": "interval", "every": "5m"}},
        {**base, "id": 22, "type": "realtime", "trigger": {"type": "poll", "every": "30s"}},
    ])
    s = Scheduler(engine)
    assert s.add_interfaces() == [4, 21]
    s.start()
    try:
        job = s.scheduler.get_job("interface-4")
        assert job.misfire_grace_time == 600 and job.coalesce and job.max_instances == 3
        assert job.next_run_time.astimezone(AMS).strftime("%a %H:%M") == "Sun 02:00"
    finally:
        s.shutdown()


def test_a_tick_fired_by_two_daemons_runs_once(make_engine):
    fakes.SOURCES["x"] = fakes.records(3)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([{"id": 4, "trigger": {"type": "cron", "cron": "* * * * *"},
                           "source": {"type": "memory", "name": "x"}, "targets": [{"type": "memtarget", "name": "tgt"}],
                           "delivery": {"skip_unchanged": False}}])
    s1, s2 = Scheduler(engine), Scheduler(engine)
    s1.add_interfaces(), s2.add_interfaces()
    s1.fire(4, 600)
    engine.store.set_cursor(4, "memory", None)  # would deliver again if it ran again
    s2.fire(4, 600)
    assert len(target.received) == 3
    assert [r["trigger"] for r in engine.store.list_runs(4)] == ["cron"]


def test_interval_ticks_count_from_one_origin_in_every_daemon(make_engine):
    """Two daemons started at different moments compute the same tick, hence one run key."""
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([{"id": 4, "trigger": {"type": "interval", "every": "15s"},
                           "source": {"type": "memory", "name": "x"}, "targets": [{"type": "memtarget", "name": "tgt"}]}])
    now = dt.datetime(2026, 12, 1, 9, 30, 7, tzinfo=dt.UTC)
    keys = set()
    for _ in range(2):
        s = Scheduler(engine)
        s.add_interfaces()
        keys.add(s.tick_key(4, 15, now))
    assert keys == {"4@2026-12-01T09:30:00Z"}
    fires = _interval_fires(15, None, now, 3)
    assert [f.astimezone(dt.UTC).strftime("%H:%M:%S") for f in fires] == ["09:30:15", "09:30:30", "09:30:45"]


def _interval_fires(every, start, now, n):
    from runtime.engine.scheduler import interval_trigger

    t, out, prev = interval_trigger(every, start), [], None
    while len(out) < n:
        prev = t.get_next_fire_time(prev, now)
        out.append(prev)
        now = prev + dt.timedelta(microseconds=1)
    return out


def test_interval_start_is_local_time_and_hourly_runs_on_the_hour():
    start = dt.datetime(2026, 9, 1, 0, 5)  # naive: Europe/Amsterdam
    fire = _interval_fires(3600, start, dt.datetime(2026, 12, 1, 9, 30, tzinfo=AMS), 1)[0]
    assert fire.astimezone(AMS).strftime("%H:%M") == "10:05"
    fire = _interval_fires(3600, None, dt.datetime(2026, 12, 1, 9, 30, tzinfo=AMS), 1)[0]
    assert fire.astimezone(AMS).strftime("%H:%M") == "10:00"


def test_interval_ticks_in_the_doubled_autumn_hour_are_two_ticks():
    # 02:30 CEST and 02:30 CET on 25 October 2026: one hour apart, so two runs, two keys
    first = dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)
    second = dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC)
    assert run_key(4, first, None) == "4@2026-10-25T00:30:00Z"
    assert run_key(4, second, None) == "4@2026-10-25T01:30:00Z"
    assert run_key(13, first, "Europe/Amsterdam") == run_key(13, second, "Europe/Amsterdam")  # cron: one


def test_a_failed_tick_is_tried_again_within_its_grace(make_engine, monkeypatch):
    from runtime.engine import scheduler

    monkeypatch.setattr(scheduler, "RETRY_FIRST", 0.05)
    fakes.SOURCES["x"] = fakes.records(3)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([{"id": 4, "trigger": {"type": "cron", "cron": "* * * * *"},
                           "source": {"type": "memory", "name": "x"}, "targets": [{"type": "memtarget", "name": "tgt"}]}])
    s = Scheduler(engine)
    s.add_interfaces()
    real, calls = engine.create_source, []

    def flaky(interface, spec=None):
        calls.append(1)
        if len(calls) <= 2:
            from runtime.errors import TransientError

            raise TransientError("source down")
        return real(interface, spec)

    monkeypatch.setattr(engine, "create_source", flaky)
    s.fire(4, 30)
    runs = engine.store.list_runs(4)
    assert [r["outcome"] for r in reversed(runs)] == ["error", "error", "ok"]
    base = runs[-1]["run_key"]
    assert [r["run_key"] for r in reversed(runs)] == [base, f"{base}~retry2", f"{base}~retry3"]
    assert len(target.received) == 3 and s.statuses[4].failures == 0


def test_every_daemon_computes_the_same_interval_tick_whenever_it_started():
    """Property: for any interval and any moment, the tick is the last multiple of the interval
    since the origin at or before now, whatever moment the trigger was built (a daemon's start):
    a trigger timed from its own start would give ticks off the grid."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from runtime.engine.scheduler import interval_trigger

    origin = dt.datetime(1970, 1, 1, tzinfo=AMS).timestamp()

    @settings(max_examples=200, deadline=None)
    @given(every=st.integers(1, 7 * 86400), offset=st.floats(0, 3 * 10**8))
    def check(every, offset):
        now = dt.datetime.fromtimestamp(origin + 10**8 + offset, dt.UTC)
        tick = last_fire_time(interval_trigger(every), now, every + 60)
        assert tick is not None and (now - tick).total_seconds() < every + 1e-6 and tick <= now
        assert round(tick.timestamp() - origin) % every == 0

    check()
