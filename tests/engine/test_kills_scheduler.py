"""The scheduler's promises that the claim tests leave open (issue 19): when a failed tick is tried
again and when it is given up, how long a tick waits for a busy interface, that a tick first
closes what this daemon left open, and what the scheduler registers for each interface.

The retry and wait timings are the ones a user configures against (a misfire grace, a lease
TTL), so they are checked on a fake clock: ``fire`` reads ``time.monotonic`` and sleeps with
``stopping.wait``; both are replaced, the clock moves only when the scheduler waits (plus a
little per run, as a real run takes time), and a test of a 10-minute grace takes milliseconds.
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import engine_fakes as fakes
import pytest

from runtime.engine import scheduler as sched
from runtime.engine.lease import holder_id
from runtime.engine.pipeline import RunSummary
from runtime.engine.scheduler import Scheduler

from tests.fakeclock import patch_for_this_thread

UTC = dt.UTC
TICK = "4@2026-05-04T06:30:00"
BUSY = "a run of this interface is already in progress"
CLAIMED = f"run {TICK} was claimed by another daemon"
RUN_TAKES = 0.01  # seconds on the fake clock per run_interface call


class FakeClock:
    """``time.monotonic`` and a ``stopping`` event whose ``wait`` moves the clock instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []
        self._set = False

    def monotonic(self) -> float:
        return self.now

    # the threading.Event interface that Scheduler.fire uses
    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        self.now += timeout or 0.0
        return self._set


class Runs:
    """A stand-in for Engine.run_interface: answers in turn (the last one repeats); notes the
    key asked for and the clock's time of each call."""

    def __init__(self, clock: FakeClock, *answers, takes: float = RUN_TAKES) -> None:
        self.clock, self.answers, self.takes = clock, list(answers), takes
        self.keys: list[str] = []
        self.at: list[float] = []
        self.events: list | None = None

    def __call__(self, iid, trigger, run_key=None, **kw):
        self.keys.append(run_key)
        self.at.append(round(self.clock.now - 1000.0, 6))
        if self.events is not None:
            self.events.append(("run", run_key))
        self.clock.now += self.takes
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        outcome, message = answer
        return RunSummary(iid, trigger, outcome, message=message)


def _iface(trigger: dict, iid: int = 4, **extra) -> dict:
    return {"id": iid, "trigger": trigger, "source": {"type": "memory", "name": "x"},
            "targets": [{"type": "memtarget", "name": "tgt"}], **extra}


@pytest.fixture
def clocked(make_engine, monkeypatch):
    """A scheduler of one every-minute cron interface on the fake clock; ``fire(runs, grace)``."""
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface({"type": "cron", "cron": "* * * * *"})])
    s = Scheduler(engine)
    s.add_interfaces()
    clock = FakeClock()
    s.stopping = clock  # type: ignore[assignment]
    patch_for_this_thread(monkeypatch, time, "monotonic", clock.monotonic)
    monkeypatch.setattr(s, "tick_key", lambda iid, grace, now=None: TICK)

    def fire(runs: Runs, grace: float) -> Runs:
        monkeypatch.setattr(engine, "run_interface", runs)
        s.fire(4, grace)
        return runs

    return s, clock, fire


def _retry_keys(n: int) -> list[str]:
    return [TICK] + [f"{TICK}~retry{i}" for i in range(2, n + 1)]


# -- a failing tick: backoff 2, 4, 8 ... s, at most a minute apart, within the misfire grace ---


def test_a_failing_tick_is_retried_after_2_4_8_16_32_seconds_until_the_grace_is_spent(clocked):
    s, clock, fire = clocked
    runs = fire(Runs(clock, ("error", "source down")), grace=100)
    # the next wait (60 s) would end past the grace (at 122 s > 100 s): given up after six tries
    assert runs.keys == _retry_keys(6)
    assert clock.waits == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert s.statuses[4].failures == 6 and s.statuses[4].state == "backoff"
    assert s.statuses[4].last_error == "source down"


def test_retries_of_a_long_grace_wait_at_most_a_minute(clocked):
    _s, clock, fire = clocked
    runs = fire(Runs(clock, ("error", "source down")), grace=250)
    assert clock.waits == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    assert runs.keys == _retry_keys(9)
    assert max(runs.at) < 250  # every try starts within the grace


def test_a_retry_that_would_start_after_the_grace_is_not_made(clocked):
    _s, clock, fire = clocked
    # tries at 0, 2, 6 s; the next at 14 s would start past a 13 s grace
    assert fire(Runs(clock, ("error", "source down")), grace=13).keys == _retry_keys(3)
    # a grace that leaves room for it
    clock.waits.clear()
    assert fire(Runs(clock, ("error", "source down")), grace=14.5).keys == _retry_keys(4)


def test_a_retry_due_exactly_as_the_grace_ends_is_still_made(clocked):
    _s, clock, fire = clocked
    # runs that take no time: tries at 0, 2 and 6 s, the last one on the grace's last moment
    assert fire(Runs(clock, ("error", "source down"), takes=0), grace=6).keys == _retry_keys(3)


def test_a_failed_run_without_a_message_shows_as_error_on_readyz(clocked):
    s, clock, fire = clocked
    fire(Runs(clock, ("error", None)), grace=1)
    assert (s.statuses[4].failures, s.statuses[4].last_error) == (1, "error")


def test_a_grace_too_short_for_the_first_backoff_gives_one_try(clocked):
    s, clock, fire = clocked
    assert fire(Runs(clock, ("error", "source down")), grace=1).keys == [TICK]
    assert clock.waits == [] and s.statuses[4].failures == 1


def test_a_tick_that_succeeds_on_a_retry_stops_there_and_clears_the_failures(clocked):
    s, clock, fire = clocked
    runs = fire(Runs(clock, ("error", "source down"), ("error", "source down"), ("partial", "1 dead")), grace=600)
    assert runs.keys == _retry_keys(3) and clock.waits == [2.0, 4.0]
    assert s.statuses[4].failures == 0 and s.statuses[4].state == "running" and s.statuses[4].last_error is None


def test_a_run_that_raises_counts_as_a_failed_try_and_is_retried(clocked):
    s, clock, fire = clocked
    runs = fire(Runs(clock, ConnectionError("state database went away"), ("ok", None)), grace=600)
    assert runs.keys == _retry_keys(2) and clock.waits == [2.0]
    assert s.statuses[4].failures == 0


def test_a_run_that_keeps_raising_is_given_up_with_its_error_on_readyz(clocked):
    s, clock, fire = clocked
    runs = fire(Runs(clock, ConnectionError("state database went away")), grace=10)
    assert runs.keys == _retry_keys(3)  # at 0, 2, 6 s; 14 s is past the grace
    status = s.statuses[4]
    assert status.failures == 3 and status.state == "backoff"
    assert status.last_error == "ConnectionError: state database went away"


def test_a_stop_during_a_backoff_ends_the_tick(clocked):
    s, clock, fire = clocked

    class StopOnWait(Runs):
        def __call__(self, *a, **kw):
            clock.set()  # the daemon is told to stop while this try fails
            return super().__call__(*a, **kw)

    runs = fire(StopOnWait(clock, ("error", "source down")), grace=600)
    assert runs.keys == [TICK]


# -- a busy interface: wait a second at a time, for the grace or two lease TTLs ---------------


def test_a_busy_tick_waits_two_lease_ttls_for_a_dead_holder_even_with_a_short_grace(clocked, monkeypatch):
    s, clock, fire = clocked
    monkeypatch.setattr(sched, "lease_ttl", lambda: 5.0)
    runs = fire(Runs(clock, ("skipped", BUSY)), grace=3)
    # a lease renewed just before its holder died lives 2 TTLs + 2 s = 12 s: tries each second
    # until one more wait would end past that
    assert runs.keys == [TICK] * 12  # the same key: a tick that never ran is not a retry
    assert set(clock.waits) == {1.0} and 10 < runs.at[-1] < 12
    assert s.statuses[4].failures == 0


def test_a_busy_tick_waits_for_its_grace_when_that_is_longer(clocked, monkeypatch):
    _s, clock, fire = clocked
    monkeypatch.setattr(sched, "lease_ttl", lambda: 5.0)
    runs = fire(Runs(clock, ("skipped", BUSY)), grace=30)
    assert runs.keys == [TICK] * 30 and 28 < runs.at[-1] < 30


def test_a_busy_tick_tries_once_more_on_the_last_second_of_its_wait(clocked, monkeypatch):
    _s, clock, fire = clocked
    monkeypatch.setattr(sched, "lease_ttl", lambda: 0.5)  # 2 TTLs + 2 s = 3 s, less than the grace
    runs = fire(Runs(clock, ("skipped", BUSY), takes=0), grace=5)
    assert runs.at == [0, 1, 2, 3, 4, 5]  # the try at 4 s still has its second to wait: one more at 5 s


def test_a_busy_tick_runs_as_soon_as_the_interface_is_free(clocked):
    s, clock, fire = clocked
    runs = fire(Runs(clock, ("skipped", BUSY), ("skipped", BUSY), ("ok", None)), grace=600)
    assert runs.keys == [TICK] * 3 and clock.waits == [1.0, 1.0]
    assert s.statuses[4].state == "running"


def test_a_busy_tick_that_then_fails_is_retried_under_a_retry_key(clocked):
    _s, clock, fire = clocked
    runs = fire(Runs(clock, ("skipped", BUSY), ("error", "source down"), ("ok", None)), grace=600)
    assert runs.keys == [TICK, TICK, f"{TICK}~retry2"]
    assert clock.waits == [1.0, 2.0]


def test_a_tick_claimed_elsewhere_is_neither_waited_for_nor_retried(clocked):
    s, clock, fire = clocked
    runs = fire(Runs(clock, ("skipped", CLAIMED), ("ok", None)), grace=600)
    assert runs.keys == [TICK] and clock.waits == []
    assert s.statuses[4].state == "running" and s.statuses[4].failures == 0


def test_a_skip_without_a_message_is_a_busy_interface(clocked, monkeypatch):
    _s, clock, fire = clocked
    runs = fire(Runs(clock, ("skipped", None), ("ok", None)), grace=600)
    assert runs.keys == [TICK, TICK]


# -- before each try: what this daemon left open is closed, a killed tick finished ------------


def test_a_tick_first_closes_the_runs_an_outage_left_running_in_this_thread(make_engine):
    fakes.SOURCES["x"] = fakes.records(2)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface({"type": "cron", "cron": "* * * * *"}), _iface({"type": "cron", "cron": "* * * * *"}, 5)])
    left = engine.store.start_run(4, "cron", run_key="4@2026-05-04T06:29:00", holder=holder_id())
    other = engine.store.start_run(5, "cron", run_key="5@2026-05-04T06:29:00", holder=holder_id())
    s = Scheduler(engine)
    s.add_interfaces()
    s.fire(4, 600)
    runs = {r["id"]: r for r in engine.store.list_runs(4)}
    assert runs[left]["outcome"] == "interrupted"
    assert [r["outcome"] for r in runs.values() if r["id"] != left] == ["ok"]
    assert len(target.received) == 2
    # another interface's open run is its own scheduler's business
    assert [r["outcome"] for r in engine.store.list_runs(5) if r["id"] == other] == ["running"]


def test_a_tick_asks_the_resume_sweep_for_its_interface_before_every_try(clocked):
    s, clock, fire = clocked
    events: list = []

    class Sweep:
        def sweep(self, now=None, interface_id=None):
            events.append(("sweep", interface_id))
            return []

    s.resumer = Sweep()  # type: ignore[assignment]
    runs = Runs(clock, ("error", "source down"), ("ok", None))
    runs.events = events
    fire(runs, grace=600)
    assert events == [("sweep", 4), ("run", TICK), ("sweep", 4), ("run", f"{TICK}~retry2")]


# -- what add_interfaces registers ---------------------------------------------------------------


def test_each_job_has_its_interface_name_its_grace_and_a_status_for_readyz(make_engine):
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([
        _iface({"type": "cron", "cron": "30 6 * * *", "misfire_grace": "2m"}, 4, name="Studenten naar Eduarte"),
        _iface({"type": "interval", "every": "90s"}, 6),
        _iface({"type": "interval", "every": "0.5s"}, 7),
        _iface({"type": "manual"}, 8),
    ])
    s = Scheduler(engine)
    assert s.add_interfaces() == [4, 6, 7]
    cron, every, fast = (s.scheduler.get_job(f"interface-{i}") for i in (4, 6, 7))
    assert cron.name == "Studenten naar Eduarte" and cron.misfire_grace_time == 120
    assert every.misfire_grace_time == 90 and fast.misfire_grace_time == 1  # an interval's grace: one interval, >= 1 s
    assert {i: (st.interface_id, st.kind) for i, st in s.statuses.items()} == {
        4: (4, "cron"), 6: (6, "interval"), 7: (7, "interval")}
    assert s.scheduler.get_job("interface-8") is None


def test_a_scheduled_job_runs_its_interface_under_the_tick_key(make_engine, monkeypatch):
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface({"type": "cron", "cron": "30 6 * * *", "misfire_grace": "2m"})])
    s = Scheduler(engine)
    s.add_interfaces()
    asked: list = []
    monkeypatch.setattr(engine, "run_interface",
                        lambda iid, trigger, run_key=None, **kw: asked.append((iid, trigger, run_key)) or
                        RunSummary(iid, trigger, "ok"))
    monkeypatch.setattr(s, "tick_key", lambda iid, grace, now=None: f"{iid}@grace{grace}")
    job = s.scheduler.get_job("interface-4")
    job.func(*job.args, **job.kwargs)  # what APScheduler calls at the tick
    assert asked == [(4, "cron", "4@grace120")]


def test_a_tick_key_counts_a_tick_up_to_a_minute_past_the_grace(make_engine):
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface({"type": "cron", "cron": "30 6 * * *"})])
    s = Scheduler(engine)
    s.add_interfaces()
    tick = dt.datetime(2026, 5, 4, 4, 30, tzinfo=UTC)  # 06:30 in Amsterdam
    assert s.tick_key(4, 600, tick + dt.timedelta(seconds=650)) == TICK
    # a fire more than grace + 60 s after any tick (by hand, say) is keyed by its own minute
    assert s.tick_key(4, 600, tick + dt.timedelta(seconds=661)) == "4@2026-05-04T06:41:00"


def test_a_cron_in_its_own_zone_runs_and_is_keyed_by_that_zone_s_wall_time(make_engine):
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface({"type": "cron", "cron": "30 6 * * *", "timezone": "America/Curacao"})])
    s = Scheduler(engine)
    s.add_interfaces()
    # 06:30 on Curaçao is 10:30 UTC (no DST there), 12:30 in Amsterdam
    assert s.tick_key(4, 600, dt.datetime(2026, 5, 4, 10, 32, tzinfo=UTC)) == "4@2026-05-04T06:30:00"
    s.start()
    try:
        job = s.scheduler.get_job("interface-4")
        assert job.next_run_time.astimezone(ZoneInfo("America/Curacao")).strftime("%H:%M") == "06:30"
    finally:
        s.shutdown()


def test_an_interval_with_a_start_ticks_from_it(make_engine):
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface({"type": "interval", "every": "1h", "start": "2026-09-01T00:05:00"})])
    s = Scheduler(engine)
    s.add_interfaces()
    # hourly at :05 (the epoch's grid would tick on the hour)
    assert s.tick_key(4, 3600, dt.datetime(2026, 12, 1, 9, 20, tzinfo=UTC)) == "4@2026-12-01T09:05:00Z"


def test_a_tick_key_names_the_latest_of_several_ticks_in_the_window(make_engine):
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface({"type": "cron", "cron": "* * * * *"})])
    s = Scheduler(engine)
    s.add_interfaces()
    # a 10-minute grace holds eleven minute ticks; the one being run is the last
    assert s.tick_key(4, 600, dt.datetime(2026, 5, 4, 4, 35, 20, tzinfo=UTC)) == "4@2026-05-04T06:35:00"


def test_the_scheduler_starts_a_resume_sweep_and_shutdown_stops_both(make_engine):
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface({"type": "cron", "cron": "30 6 * * *"})])
    s = Scheduler(engine)
    s.add_interfaces()
    s.start()
    try:
        assert s.scheduler.running and s.resumer is not None and s.resumer.is_alive()
    finally:
        s.shutdown()
    assert not s.scheduler.running and not s.resumer.is_alive() and s.stopping.is_set()


# -- what the operator reads in the log ----------------------------------------------------------


def test_the_log_says_why_a_tick_ran_no_run_naming_the_interface(clocked, caplog):
    import logging

    _s, clock, fire = clocked
    caplog.set_level(logging.INFO, logger="koppel.scheduler")
    fire(Runs(clock, ("ok", None)), grace=600)  # a tick that ran says nothing here (the run logs)
    fire(Runs(clock, ("skipped", CLAIMED)), grace=600)
    fire(Runs(clock, ConnectionError("state database went away")), grace=3)
    lines = [(r.levelname, r.getMessage(), getattr(r, "interface", None)) for r in caplog.records]
    assert lines == [
        ("INFO", f"tick skipped: {CLAIMED}", 4),
        ("WARNING", "scheduled run failed: ConnectionError", 4),
        ("WARNING", "scheduled run failed: ConnectionError", 4),
        # an error: the tick's data waits for the next tick, which an operator may want to know
        ("ERROR", f"tick {TICK} given up after 2 attempts; the next tick reads from the cursor", 4)]
    exc_info = caplog.records[1].exc_info
    assert exc_info and exc_info[0] is ConnectionError  # the traceback, for the cause


def test_the_log_says_when_a_busy_tick_is_given_up(clocked, caplog, monkeypatch):
    import logging

    _s, clock, fire = clocked
    monkeypatch.setattr(sched, "lease_ttl", lambda: 0.5)
    caplog.set_level(logging.INFO, logger="koppel.scheduler")
    fire(Runs(clock, ("skipped", BUSY)), grace=1)
    assert [(r.levelname, r.getMessage(), getattr(r, "interface", None)) for r in caplog.records] == [
        ("INFO", f"tick {TICK} skipped: {BUSY}", 4)]


def test_an_interval_key_is_utc_whatever_zone_the_host_is_set_to(monkeypatch):
    tick = dt.datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
    monkeypatch.setenv("TZ", "Europe/Amsterdam")
    time.tzset()
    try:
        assert sched.run_key(4, tick, None) == "4@2026-07-01T00:00:00Z"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_shutdown_waits_for_the_tick_in_progress(make_engine, monkeypatch):
    import threading

    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface({"type": "cron", "cron": "30 6 * * *"})])
    s = Scheduler(engine)
    s.add_interfaces()
    running, finished = threading.Event(), threading.Event()

    def slow_run(iid, trigger, run_key=None, **kw):
        running.set()
        time.sleep(0.5)  # a run takes its time; the daemon's stop must not cut it off
        finished.set()
        return RunSummary(iid, trigger, "ok")

    monkeypatch.setattr(engine, "run_interface", slow_run)
    s.start()
    try:
        s.scheduler.get_job("interface-4").modify(next_run_time=dt.datetime.now(UTC))
        assert running.wait(10)
    finally:
        s.shutdown()
    assert finished.is_set()


def test_a_run_killed_with_its_daemon_is_resumed_by_a_running_scheduler(make_engine, monkeypatch):
    monkeypatch.setenv("KOPPEL_LEASE_TTL", "0.6")  # sweeps every 0.2 s
    fakes.SOURCES["x"] = fakes.records(2)
    target = fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface({"type": "cron", "cron": "30 6 * * *"})])
    dead = engine.store.start_run(4, "cron", run_key="4@2026-05-04T06:30:00", holder="gone-host:1:1")
    s = Scheduler(engine)
    s.add_interfaces()
    s.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(target.received) < 2:
            time.sleep(0.05)
    finally:
        s.shutdown()
    runs = {r["id"]: r for r in engine.store.list_runs(4)}
    assert runs[dead]["outcome"] == "crashed"
    assert [(r["trigger"], r["run_key"], r["outcome"]) for i, r in runs.items() if i != dead] == [
        ("resume", f"4@2026-05-04T06:30:00~resume{dead}", "ok")]
    assert len(target.received) == 2


def test_shutdown_waits_no_more_than_ten_seconds_for_a_hung_resume_sweep(make_engine, monkeypatch):
    import threading

    from runtime.engine import resume

    monkeypatch.setenv("KOPPEL_LEASE_TTL", "0.6")
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface({"type": "cron", "cron": "30 6 * * *"})])
    sweeping, release = threading.Event(), threading.Event()

    def hung(self, now=None, interface_id=None):
        sweeping.set()
        release.wait(30)  # the state database does not answer
        return []

    monkeypatch.setattr(resume.ResumeSweep, "sweep", hung)
    s = Scheduler(engine)
    s.add_interfaces()
    s.start()
    try:
        assert sweeping.wait(10)
        started = time.monotonic()
        s.shutdown()
        waited = time.monotonic() - started
        assert s.resumer is not None and s.resumer.is_alive()  # given up on, not waited for forever
        assert waited < 20  # systemd's stop timeout is longer; the hung sweep would take 30 s
    finally:
        release.set()


def test_shutdown_lets_a_resume_sweep_in_progress_finish(make_engine, monkeypatch):
    import threading

    from runtime.engine import resume

    monkeypatch.setenv("KOPPEL_LEASE_TTL", "0.6")
    fakes.TARGETS["tgt"] = fakes.Behaviour()
    engine = make_engine([_iface({"type": "cron", "cron": "30 6 * * *"})])
    sweeping, swept = threading.Event(), threading.Event()

    def slow(self, now=None, interface_id=None):
        sweeping.set()
        time.sleep(0.5)  # closing a dead run, say
        swept.set()
        return []

    monkeypatch.setattr(resume.ResumeSweep, "sweep", slow)
    s = Scheduler(engine)
    s.add_interfaces()
    s.start()
    assert sweeping.wait(10)
    s.shutdown()
    assert swept.is_set() and s.resumer is not None and not s.resumer.is_alive()


@pytest.mark.parametrize("start", [None, dt.datetime(2026, 3, 1, 6, 0)])
@pytest.mark.parametrize("every", [15, 60, 3600])
def test_an_interval_tick_just_after_the_autumn_fold_has_its_own_key(every, start):
    """02:00 CET on 25 October 2026 (01:00 UTC) comes an hour after 02:00 CEST: the interval
    ticks of the second 02:00 hour are ticks of their own, so each must get its own key, not the
    key of the last tick before the fold (which ran an hour or a minute ago: claimed, skipped)."""
    trigger = sched.interval_trigger(every, start)
    fold = dt.datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    for late in (0, 5, 14):
        tick = sched.last_fire_time(trigger, fold + dt.timedelta(seconds=late), every + 60)
        assert sched.run_key(4, tick, None) == "4@2026-10-25T01:00:00Z"
    # and the ticks after it in the second hour, a multiple of the interval on
    later = sched.last_fire_time(trigger, fold + dt.timedelta(seconds=every + 5), every + 60)
    assert later is not None and later.timestamp() == (fold + dt.timedelta(seconds=every)).timestamp()
