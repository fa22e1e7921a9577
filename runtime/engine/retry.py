"""Exponential backoff with jitter, bounded by the interface's retry policy.

Delay before retry n (n = 1 after the first failed attempt)::

    initial_delay × multiplier^(n-1), at most max_delay

With ``jitter`` the delay is drawn uniformly from [delay/2, delay] ("equal jitter"): retries of
many records do not arrive at the peer in waves, yet a retry never comes sooner than half the
planned delay. A peer's own ``Retry-After`` wins when it asks for longer, capped at max_delay.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from runtime.errors import TransientError


@dataclass(frozen=True)
class Backoff:
    max_attempts: int = 8
    initial_delay: float = 1.0
    max_delay: float = 300.0
    multiplier: float = 2.0
    jitter: bool = True

    @classmethod
    def from_policy(cls, policy) -> "Backoff":
        return cls(policy.max_attempts, policy.initial_delay, policy.max_delay, policy.multiplier, policy.jitter)

    def delay(self, attempt: int, error: BaseException | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        planned = min(self.max_delay, self.initial_delay * self.multiplier ** max(0, attempt - 1))
        if self.jitter:
            planned = (rng or random).uniform(planned / 2, planned)
        retry_after = getattr(error, "retry_after", None) if isinstance(error, TransientError) else None
        if retry_after:
            planned = max(planned, min(float(retry_after), self.max_delay))
        return planned


class Sleeper:
    """Waits between retries; a drain (SIGTERM) interrupts the wait at once."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def sleep(self, seconds: float) -> bool:
        """False when interrupted by ``stop()``."""
        return not self._stop.wait(seconds)

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()
