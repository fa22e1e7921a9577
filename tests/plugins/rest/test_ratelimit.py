"""Client-side pacing from the catalog's rate_limit and from the peer's X-RateLimit headers."""

from __future__ import annotations

import time

import httpx

from plugins.rest.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def test_calls_are_spaced_evenly() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2.0, clock=clock, sleep=clock.sleep)  # 2 calls/s
    for _ in range(4):
        limiter.wait()
    assert clock.slept == [0.5, 0.5, 0.5]


def test_no_limit_never_waits() -> None:
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep)
    assert [limiter.wait() for _ in range(3)] == [0.0, 0.0, 0.0] and clock.slept == []


def test_used_up_window_blocks_until_its_reset() -> None:
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep, max_header_wait=60)
    reset_ms = int((time.time() + 20) * 1000)
    headers = {"X-RateLimit-Minutely-Remaining": "0", "X-RateLimit-Minutely-Reset": str(reset_ms)}
    limiter.observe(httpx.Response(200, headers=headers))
    limiter.wait()
    assert 19 <= clock.slept[0] <= 20.5


def test_far_reset_is_left_to_the_peers_429() -> None:
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep, max_header_wait=60)
    daily = int((time.time() + 3600 * 5) * 1000)
    limiter.observe(httpx.Response(200, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(daily)}))
    assert limiter.wait() == 0.0


def test_catalog_rate_limit_paces_real_calls(peer, monkeypatch) -> None:
    from plugins.rest import plugin
    from runtime.plugin import Item

    from .conftest import context

    slept: list[float] = []
    peer.route("POST", "/r")(lambda request: (200, {}))
    spec = plugin.target_spec.model_validate({"type": "rest", "path": "r"})
    target = plugin.create_target(spec, context(peer.url, rate_limit=1.0))  # Exact: 60 calls a minute
    target.open()
    target.client.limiter._sleep = slept.append  # record the waits instead of sleeping them
    target.write([Item(key=f"k{n}", payload={}, source_key="s") for n in range(3)])
    # No time passes while "sleeping", so the slots stack up: about 1 s, then about 2 s.
    assert len(slept) == 2 and 0.5 < slept[0] <= 1.0 and 1.5 < slept[1] <= 2.0
    assert len(peer.requests) == 3
