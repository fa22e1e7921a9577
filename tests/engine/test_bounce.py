"""Several daemons on one PostgreSQL, one killed with SIGKILL every few seconds (small scale; the
issue's scale is bench/bench_bounce.py).

Properties: no change lost (each key's last version arrives) or reordered per key; each interval
tick that fell during the bounce ran to completion exactly once (a killed tick is finished by a
survivor with trigger ``resume``); the outbox interface of a killed owner is taken over within
the lease TTL plus a sweep with no further change, and a survivor's /readyz failed while the
interface lagged without a holder that moved it; no run is left ``running`` past its lease.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from engine_bounce import bounce

sys.path.insert(0, str(Path(__file__).parents[1] / "faultkit"))
from pgcluster import PgCluster

from tests.scale import scaled

pytest.importorskip("plugins.sis.source", reason="the sis plugin is not in this tree")
pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TTL, SWEEP = 8.0, 8.0 / 3


def test_bounce_loses_nothing_runs_each_tick_once_and_takes_over_by_expiry(tmp_path):
    with PgCluster() as cluster:
        # CI: four kills, one every 3 s (each victim back a second later), 16 s of bouncing;
        # KOPPEL_TEST_SCALE=full bounces for a minute, a kill every 5 s, over more keys
        report = bounce(cluster, tmp_path, daemons=3, seconds=scaled(14, 60), kill_every=scaled(3, 5), rate=10,
                        keys=scaled(30, 100), interval=5, ttl=TTL, max_lag=3)
    assert report.kills >= 4
    assert report.lost == [], f"lost: {report.lost[:5]}\n{report.log_tail}"
    assert report.reordered == [], {k: report.arrived[k] for k in report.reordered[:3]}
    missing = [t for t in report.ticks_expected if t not in report.ticks_ran]
    twice = {t: n for t, n in report.ticks_ran.items() if n > 1}
    runs = " ".join(f"{r['id']}:{r['trigger']}:{r['run_key'][13:]}:{r['outcome']}:{(r['holder'] or '')[-22:-16]}"
                    for r in report.tick_runs)
    kills = " ".join(f"{t % 3600:.1f}:{name}" for t, name in report.kill_times)
    assert missing == [] and twice == {}, f"missing {missing} twice {twice}\nruns {runs}\nkills {kills}"
    assert report.takeover_seconds is not None, report.log_tail
    assert report.takeover_seconds <= TTL + SWEEP + 2.0, report.takeover_seconds  # + the run itself
    assert report.survivors_not_ready, "no survivor's /readyz failed while the interface was stranded"
    assert any("behind" in r for r in report.survivor_reasons), report.survivor_reasons
    assert report.left_running == [], report.left_running
    print(f"\nbounce: {report.kills} kills, ticks expected {len(report.ticks_expected)}, ran "
          f"{sum(1 for t in report.ticks_expected if t in report.ticks_ran)}, resumed {report.resumed}, "
          f"takeover {report.takeover_seconds:.1f} s, duplicates {report.duplicates}")
