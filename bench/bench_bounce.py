"""Bounce bench (issue 18, as Kafka Connect runs them): N daemons on one throwaway PostgreSQL
cluster (tests/faultkit/pgcluster.py, never the main server), one killed with SIGKILL every few
seconds and started again a second later, while SIS changes arrive; interface 24 (outbox → a
recording HTTP target), interface 4 on an interval and interface 20 every minute (slow runs, so
kills land mid-run). Then the owner of 24 is killed, a burst written, and no further change made.

Prints: changes lost / reordered / duplicated, kills, ticks expected against ticks run (exactly
once each), runs resumed by a survivor, the takeover time after the owner's SIGKILL and its ratio
to the bound (lease TTL + one sweep), whether a survivor's /readyz failed meanwhile, runs left
``running``. The daemons are engine_cluster_worker.py processes: the Daemon that ``koppel serve``
runs, over test plugins (the real sis source, an HTTP test target, a slow clock source).

    .venv/bin/python bench/bench_bounce.py [--daemons 3] [--seconds 180] [--kill-every 10]
        [--rate 20] [--interval 15] [--ttl 15] [--no-cron]

Measured with the defaults (2 shared cores, load average 11): 17 kills; 1,719 arrivals over 200
keys, 0 lost, 0 reordered, 4 duplicates; interval ticks 13 expected, 13 ran exactly once; cron
ticks 3 expected, 3 ran exactly once; 3 runs resumed by a survivor, 0 left running past their
lease; takeover 17.8 s after the owner's SIGKILL (bound TTL 15 s + sweep 5 s: ratio 0.89); a
survivor's /readyz failed while the interface was stranded. Before (issue 18): 39 interval runs
for about 21 ticks, stranded changes waited 81 s for the killed daemon's restart.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "engine"), str(ROOT / "tests" / "faultkit")]

from engine_bounce import bounce  # noqa: E402 (after the path setup)
from pgcluster import PgCluster  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--daemons", type=int, default=3)
    p.add_argument("--seconds", type=float, default=180)
    p.add_argument("--kill-every", type=float, default=10)
    p.add_argument("--rate", type=float, default=20, help="SIS changes per second")
    p.add_argument("--keys", type=int, default=200)
    p.add_argument("--interval", type=float, default=15)
    p.add_argument("--ttl", type=float, default=15, help="KOPPEL_LEASE_TTL of the daemons")
    p.add_argument("--max-lag", type=float, default=5, help="KOPPEL_READY_MAX_LAG of the daemons")
    p.add_argument("--no-cron", action="store_true")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="koppel-bounce-"))
    with PgCluster() as cluster:
        r = bounce(cluster, tmp, daemons=a.daemons, seconds=a.seconds, kill_every=a.kill_every, rate=a.rate,
                   keys=a.keys, interval=a.interval, cron=None if a.no_cron else "* * * * *", ttl=a.ttl,
                   max_lag=a.max_lag)
    sweep = min(10.0, a.ttl / 3)
    expected = r.ticks_expected
    ran = [t for t in expected if r.ticks_ran.get(t) == 1]
    twice = [t for t, n in r.ticks_ran.items() if n > 1]
    print(f"daemons {a.daemons}, {a.seconds:.0f} s, SIGKILL every {a.kill_every:.0f} s: {r.kills} kills "
          f"(load average {os.getloadavg()[0]:.1f})")
    print(f"changes: {sum(len(v) for v in r.arrived.values())} arrivals over {len(r.last_version)} keys; "
          f"lost {len(r.lost)}, reordered {len(r.reordered)}, duplicates {r.duplicates}")
    for label, prefix in (("interval", "4@"), ("cron", "20@")):
        e = [t for t in expected if t.startswith(prefix)]
        if e:
            print(f"{label} ticks: expected {len(e)}, ran exactly once {len([t for t in ran if t.startswith(prefix)])}, "
                  f"ran twice {len([t for t in twice if t.startswith(prefix)])}")
    print(f"runs resumed by a survivor: {r.resumed}; runs left running past their lease: {len(r.left_running)}")
    if r.takeover_seconds is None:
        print("takeover: none within the wait")
    else:
        bound = a.ttl + sweep
        print(f"takeover after SIGKILL of the owner: {r.takeover_seconds:.1f} s (bound TTL + sweep {bound:.1f} s, "
              f"ratio {r.takeover_seconds / bound:.2f})")
    print(f"a survivor's /readyz failed while stranded: {r.survivors_not_ready}"
          + (f" ({r.survivor_reasons[0]})" if r.survivor_reasons else ""))


if __name__ == "__main__":
    main()
