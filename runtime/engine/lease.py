"""Leases: how daemons sharing one state database agree who runs what.

A lease is a row in ``koppel_leases`` (name, holder, expires_at). Its holder renews it every
``ttl / 3`` while it works; a holder that stops renewing (killed, frozen, cut off from the
database) loses it when ``expires_at`` passes, and only then may another process take it. There
is no guessing from hostnames or process numbers: two daemons in containers on one host (same
hostname, same pid 1) are told apart by ``PROCESS_ID``, a random id drawn at process start.

Two kinds of lease:

- ``interface:<id>``: held for the length of one run (runtime/engine/pipeline.py), so a run of
  an interface never overlaps itself, whichever daemon, scheduler tick or ``koppel run`` starts it;
- ``owner:interface:<id>``: held by one daemon's realtime loop for as long as it is up, so one
  daemon reads an outbox or polls an API and the others stand by; a standby tries again every
  sweep and takes over once the owner's lease expired (realtime.py).

``KOPPEL_LEASE_TTL`` (seconds, default 60) sets the TTL; tests use a few seconds.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

log = logging.getLogger("koppel.lease")

DEFAULT_TTL = 60.0
LEASE_TTL = DEFAULT_TTL  # the default; lease_ttl() is what a process uses


def lease_ttl() -> float:
    """The lease TTL of this process: KOPPEL_LEASE_TTL seconds, else 60."""
    value = os.environ.get("KOPPEL_LEASE_TTL")
    try:
        return max(0.5, float(value)) if value else DEFAULT_TTL
    except ValueError:
        log.warning("KOPPEL_LEASE_TTL=%r is not a number of seconds; using %s", value, DEFAULT_TTL)
        return DEFAULT_TTL


def _new_process_id() -> str:
    # hostname and pid for the operator reading koppel_leases; the random part is the identity
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


PROCESS_ID = _new_process_id()


def _after_fork() -> None:  # a forked child is another process: it must not pass for its parent
    global PROCESS_ID
    PROCESS_ID = _new_process_id()


os.register_at_fork(after_in_child=_after_fork)


def process_id() -> str:
    return PROCESS_ID


def holder_id() -> str:
    """The holder of a lease taken in this thread: this process's random id and the thread."""
    return f"{PROCESS_ID}:{threading.get_ident()}"


def process_of(holder: str | None) -> str | None:
    """The process id (without the thread) of a lease holder, for /readyz and metrics."""
    if not holder:
        return None
    return holder.rsplit(":", 1)[0] if holder.count(":") >= 3 else holder


class Lease:
    """One lease, renewed in the background while it is held; ``lost`` is set when a renewal
    finds it taken (it expired while this process could not renew it)."""

    def __init__(self, store, name: str, ttl: float | None = None, holder: str | None = None) -> None:
        self.store, self.name = store, name
        self.ttl = ttl if ttl is not None else lease_ttl()
        self.holder = holder or holder_id()
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, wait: float = 0.0) -> bool:
        deadline = time.monotonic() + wait
        while not self.store.acquire_lease(self.name, self.holder, self.ttl):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)
        self.lost.clear()
        self._done.clear()
        self._thread = threading.Thread(target=self._heartbeat, name=f"lease-{self.name}", daemon=True)
        self._thread.start()
        return True

    def _heartbeat(self) -> None:
        while not self._done.wait(self.ttl / 3):
            try:
                if not self.store.renew_lease(self.name, self.holder, self.ttl):
                    self.lost.set()
                    return
            except Exception:  # a hiccup of the database: try again next beat
                log.warning("lease renewal failed", exc_info=True, extra={"lease": self.name})

    @property
    def held(self) -> bool:
        return self._thread is not None and not self._done.is_set() and not self.lost.is_set()

    def release(self) -> None:
        self._done.set()
        if self._thread:
            self._thread.join(timeout=5)
        self.store.release_lease(self.name, self.holder)
