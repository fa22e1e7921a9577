"""One daemon of a test cluster: the Daemon ``koppel serve`` runs, over test plugins, on a shared
PostgreSQL (tests/faultkit/pgcluster.py) that a test stops, or beside daemons a test kills.

    python engine_cluster_worker.py ROOT DATABASE_URL PORT TARGET_URL

- interface 24: outbox of ``person`` (the real sis source) → the HTTP test target at TARGET_URL,
  which records every arrival (tests/engine/engine_http.py);
- with KOPPEL_TEST_INTERVAL=<seconds>: interface 4 on that interval, and with
  KOPPEL_TEST_CRON=<expression> interface 20 on that cron, both reading a slow clock source
  (KOPPEL_TEST_TICK_BATCHES batches of one record, KOPPEL_TEST_TICK_DELAY seconds apart, so a
  kill can land mid-run) into a memory target. Their runs in ``koppel_runs`` are the tick count.

KOPPEL_SIS_URL and KOPPEL_STATE_URL are set to DATABASE_URL by the caller; KOPPEL_LEASE_TTL and
KOPPEL_READY_MAX_LAG make leases and readiness react in seconds.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

sys.path.insert(0, str(Path(__file__).parent))

import engine_fakes
import engine_http
import engine_outbox

from runtime.engine import Engine
from runtime.engine.daemon import Daemon
from runtime.engine.logs import configure
from runtime.models.interface import SpecBase
from runtime.plugin import Batch, Plugin, Record, Source


class ClockSpec(SpecBase):
    type: Literal["clock"]


class ClockSource(Source):
    """A few batches of one record each, slowly; the cursor is the batch number, "" when done, so
    every run reads all of them again and a resumed run reads only the rest."""

    def __init__(self, spec, ctx) -> None:
        self.batches = int(os.environ.get("KOPPEL_TEST_TICK_BATCHES", "3"))
        self.delay = float(os.environ.get("KOPPEL_TEST_TICK_DELAY", "0.3"))

    def read(self, cursor: str | None) -> Iterator[Batch]:
        for i in range(int(cursor or 0), self.batches):
            time.sleep(self.delay)
            last = i + 1 == self.batches
            yield Batch([Record(key=f"batch-{i}", data={"batch": i, "at": time.time()}, object="tick")],
                        cursor="" if last else str(i + 1))


def main(root: str, url: str, port: str, target_url: str) -> None:
    configure(json_lines=True)
    engine_fakes.TARGETS["ticks"] = engine_fakes.Behaviour()
    source, extra = engine_outbox.sis_source_spec(url, ["person"])
    reg = engine_fakes.registry({"httptest": engine_http.plugin(), **extra,
                                 "clock": Plugin("clock", "test clock", source_spec=ClockSpec,
                                                 create_source=lambda s, c: ClockSource(s, c))})
    interfaces = [{"id": 24, "type": "realtime", "objects": ["person"],
                   "trigger": {"type": "outbox", "objects": ["person"], "poll": 0.2},
                   "source": source, "targets": [{"type": "httptest", "url": target_url}],
                   "delivery": {"batch_size": 50}}]
    tick = {"source": {"type": "clock"}, "targets": [{"type": "memtarget", "name": "ticks"}],
            "delivery": {"skip_unchanged": False}}
    if os.environ.get("KOPPEL_TEST_INTERVAL"):
        interfaces.append({"id": 4, "trigger": {"type": "interval", "every": float(os.environ["KOPPEL_TEST_INTERVAL"])},
                           **tick})
    if os.environ.get("KOPPEL_TEST_CRON"):
        interfaces.append({"id": 20, "trigger": {"type": "cron", "cron": os.environ["KOPPEL_TEST_CRON"],
                                                 "misfire_grace": 30}, **tick})
    project = engine_fakes.make_project(Path(root), reg, interfaces)
    Daemon(Engine(project, reg, state_url=url), port=int(port)).serve()


if __name__ == "__main__":
    main(*sys.argv[1:5])
