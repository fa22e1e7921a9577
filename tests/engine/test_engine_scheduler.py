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
    assert [f.astimezone(dt.timezone.utc).hour for f in fires] == [2, 1]


def test_the_doubled_hour_in_autumn_runs_once():
    # on 25 October 2026 02:00-03:00 happens twice; APScheduler 3 fires at both 02:00s
    t = cron_trigger("0 2 * * *")
    first = dt.datetime(2026, 10, 25, 0, 0, tzinfo=dt.timezone.utc)  # 02:00 CEST
    second = dt.datetime(2026, 10, 25, 1, 0, tzinfo=dt.timezone.utc)  # 02:00 CET
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
