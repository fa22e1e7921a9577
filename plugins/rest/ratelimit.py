"""Client-side pacing, so Koppel stays under a system's published limit instead of hitting 429s.

Two sources of truth, both honoured:
- the catalog's ``rate_limit`` (calls per second; Exact: ``1.0`` for 60 calls a minute): calls are
  spaced evenly, with no burst, because Exact counts per rolling minute;
- the peer's own ``X-RateLimit-Remaining`` / ``X-RateLimit-Minutely-Remaining`` headers: when a
  window is used up, the next call waits for its reset (if that is not too far away; otherwise the
  call goes out, gets its 429 and becomes a TransientError with ``retry_after``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from .errors import reset_to_seconds

_WINDOWS = (
    ("x-ratelimit-minutely-remaining", "x-ratelimit-minutely-reset"),
    ("x-ratelimit-remaining", "x-ratelimit-reset"),
)


class RateLimiter:
    """Thread-safe pacing of calls; ``wait()`` before every call, ``observe()`` after it."""

    def __init__(
        self,
        calls_per_second: float | None,
        *,
        max_header_wait: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / calls_per_second if calls_per_second else 0.0
        self.max_header_wait = max_header_wait
        self._clock = clock
        self._sleep = sleep
        self._next_slot = 0.0
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Sleep until this call may go out; returns the seconds slept (for tests and metrics)."""
        if not self.interval and not self._blocked_until:
            return 0.0
        with self._lock:
            now = self._clock()
            start = max(now, self._next_slot, self._blocked_until)
            self._next_slot = start + self.interval
        delay = start - now
        if delay > 0:
            self._sleep(delay)
        return max(delay, 0.0)

    def observe(self, response: httpx.Response) -> None:
        """Learn from the peer's rate-limit headers: a used-up window blocks until its reset."""
        headers = response.headers
        for remaining_name, reset_name in _WINDOWS:
            remaining = headers.get(remaining_name)
            reset = headers.get(reset_name)
            if remaining is None or reset is None:
                continue
            try:
                if int(float(remaining)) > 0:
                    continue
                seconds = reset_to_seconds(float(reset), time.time())
            except ValueError:
                continue
            if seconds <= self.max_header_wait:
                with self._lock:
                    self._blocked_until = max(self._blocked_until, self._clock() + seconds)
            return
