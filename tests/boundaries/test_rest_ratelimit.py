"""plugins/rest/ratelimit.py on a fake clock: the exact waits, the window headers, the cap."""

from __future__ import annotations

import threading
import time

import httpx

from plugins.rest.ratelimit import RateLimiter


class Clock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(rate, clock: Clock, **kw) -> RateLimiter:
    return RateLimiter(rate, clock=clock, sleep=clock.sleep, **kw)


def test_without_a_rate_no_call_waits():
    clock = Clock()
    rl = limiter(None, clock)
    assert [rl.wait() for _ in range(5)] == [0.0] * 5 and clock.slept == []
    assert rl.interval == 0.0


def test_calls_are_spaced_evenly_with_no_burst():
    clock = Clock()
    rl = limiter(2.0, clock)  # one call every 0.5 s
    assert rl.interval == 0.5
    waits = [rl.wait() for _ in range(4)]
    assert waits == [0.0, 0.5, 0.5, 0.5] and clock.slept == [0.5, 0.5, 0.5]


def test_time_spent_elsewhere_counts_towards_the_spacing():
    clock = Clock()
    rl = limiter(1.0, clock)
    rl.wait()
    clock.now += 0.25
    assert rl.wait() == 0.75
    clock.now += 5  # idle for long: no credit is saved up for a burst afterwards
    assert rl.wait() == 0.0 and rl.wait() == 1.0


def _window(remaining: str, reset: str, minutely: bool = True) -> httpx.Response:
    prefix = "x-ratelimit-minutely-" if minutely else "x-ratelimit-"
    return httpx.Response(200, headers={f"{prefix}remaining": remaining, f"{prefix}reset": reset})


def test_a_used_up_window_blocks_until_its_reset():
    clock = Clock()
    rl = limiter(None, clock)
    rl.observe(_window("0", "30"))  # 30 seconds from now
    assert rl.wait() == 30.0
    assert rl.wait() == 0.0  # the window has reset


def test_a_window_with_calls_left_does_not_block():
    clock = Clock()
    rl = limiter(None, clock)
    for remaining in ("1", "5", "0.9e1"):
        rl.observe(_window(remaining, "30"))
    assert rl.wait() == 0.0


def test_the_plain_window_is_read_too_and_epoch_resets_are_understood():
    clock = Clock()
    rl = limiter(None, clock)
    rl.observe(_window("0", str(time.time() + 20), minutely=False))
    assert 19.0 < rl.wait() <= 20.0


def test_a_reset_too_far_away_is_not_waited_for():
    clock = Clock()
    rl = limiter(None, clock, max_header_wait=60.0)
    rl.observe(_window("0", "61"))
    assert rl.wait() == 0.0  # the call goes out and gets its 429 with Retry-After instead
    rl.observe(_window("0", "60"))
    assert rl.wait() == 60.0


def test_broken_or_partial_headers_are_ignored():
    clock = Clock()
    rl = limiter(None, clock)
    rl.observe(httpx.Response(200, headers={"x-ratelimit-remaining": "0"}))       # no reset
    rl.observe(httpx.Response(200, headers={"x-ratelimit-reset": "10"}))          # no remaining
    rl.observe(_window("none", "10"))
    rl.observe(_window("0", "soon"))
    assert rl.wait() == 0.0


def test_the_first_window_found_decides_and_the_later_blocking_wins():
    clock = Clock()
    rl = limiter(None, clock)
    both = httpx.Response(200, headers={"x-ratelimit-minutely-remaining": "0", "x-ratelimit-minutely-reset": "5",
                                        "x-ratelimit-remaining": "0", "x-ratelimit-reset": "50"})
    rl.observe(both)
    assert rl.wait() == 5.0  # the minutely window; the daily one is not consulted
    rl.observe(_window("0", "20"))
    rl.observe(_window("0", "3"))  # a shorter block later does not shorten the longer one
    assert rl.wait() == 20.0


def test_spacing_and_a_block_add_up_to_the_later_of_the_two():
    clock = Clock()
    rl = limiter(1.0, clock)
    rl.wait()
    rl.observe(_window("0", "10"))
    assert rl.wait() == 10.0
    assert rl.wait() == 1.0


def test_concurrent_callers_get_distinct_slots():
    clock = Clock()
    rl = RateLimiter(10.0, clock=clock, sleep=lambda s: None)
    waits: list[float] = []
    lock = threading.Lock()

    def call() -> None:
        w = rl.wait()
        with lock:
            waits.append(round(w, 6))

    threads = [threading.Thread(target=call) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == [round(0.1 * i, 6) for i in range(10)]


def test_a_fresh_limiter_lets_the_first_call_go_at_once_even_at_clock_zero():
    clock = Clock(start=0.0)
    assert limiter(None, clock).wait() == 0.0
    clock = Clock(start=0.0)
    rl = limiter(4.0, clock)
    assert rl.wait() == 0.0 and rl.wait() == 0.25


def test_the_default_cap_on_a_header_wait_is_sixty_seconds():
    clock = Clock()
    rl = RateLimiter(None, clock=clock, sleep=clock.sleep)
    rl.observe(_window("0", "60.5"))
    assert rl.wait() == 0.0
    rl.observe(_window("0", "60"))
    assert rl.wait() == 60.0


def test_a_window_with_calls_left_or_unreadable_does_not_hide_the_next_one():
    clock = Clock()
    rl = limiter(None, clock)
    headers = {"x-ratelimit-minutely-remaining": "5", "x-ratelimit-minutely-reset": "10",
               "x-ratelimit-remaining": "0", "x-ratelimit-reset": "25"}
    rl.observe(httpx.Response(200, headers=headers))
    assert rl.wait() == 25.0  # the minutely window has calls left; the daily one is used up
    broken = {**headers, "x-ratelimit-minutely-remaining": "?", "x-ratelimit-reset": "7"}
    rl.observe(httpx.Response(200, headers=broken))
    assert rl.wait() == 7.0
