"""Prometheus metrics. Labels are interface numbers, target (system) names, outcomes, stages and
error classes: never a key, a name or any other personal data."""

from __future__ import annotations

import logging

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
log = logging.getLogger("koppel.metrics")
RUN_BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400)


class Metrics:
    def __init__(self, store=None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.store = store
        self.runs = Counter("koppel_runs", "Runs finished, by outcome.", ["interface", "outcome"], registry=r)
        self.records = Counter("koppel_records", "Records by stage (read mapped filtered skipped delivered failed dead).",
                               ["interface", "stage"], registry=r)
        self.errors = Counter("koppel_errors", "Delivery errors by class.", ["interface", "error_class"], registry=r)
        self.run_seconds = Histogram("koppel_run_duration_seconds", "Duration of runs.", ["interface"],
                                     buckets=RUN_BUCKETS, registry=r)
        self.write_seconds = Histogram("koppel_target_write_seconds", "Latency of one write to a target.",
                                       ["interface", "target"], buckets=LATENCY_BUCKETS, registry=r)
        self.delivery_lag = Histogram("koppel_delivery_lag_seconds", "From the change (or the webhook) to delivery.",
                                      ["interface"], buckets=LATENCY_BUCKETS, registry=r)
        self.webhooks = Counter("koppel_webhook_requests", "Inbound webhook calls by HTTP status.",
                                ["interface", "status"], registry=r)
        self.dead_open = Gauge("koppel_dead_letters_open", "Dead letters waiting for an operator.", ["interface"], registry=r)
        self.running = Gauge("koppel_runs_in_progress", "Runs in progress.", ["interface"], registry=r)
        # the daemon's loops (health.py): one series per interface and loop kind
        self.loop_up = Gauge("koppel_loop_up", "1 while the loop works (running, idle or standing by), 0 while it "
                             "backs off after a failure.", ["interface", "loop"], registry=r)
        self.loop_failures = Gauge("koppel_loop_consecutive_failures", "Failures since the loop's last success.",
                                   ["interface", "loop"], registry=r)
        self.outbox_lag = Gauge("koppel_outbox_lag_seconds", "Age of the oldest outbox change the interface has "
                                "not sent yet (0: up to date).", ["interface"], registry=r)
        self.owned = Gauge("koppel_interface_owned", "1 when this daemon reads for the interface, 0 when it stands "
                           "by for another daemon.", ["interface"], registry=r)
        self.holder_alive = Gauge("koppel_interface_holder_alive", "1 when some daemon holds the interface's "
                                  "owner lease and renews it.", ["interface"], registry=r)
        self.invalid = Gauge("koppel_definition_invalid", "1 for a definition file that is invalid and not "
                             "served (the last good version may be).", ["file"], registry=r)
        self.collectors: list = []  # called before rendering, e.g. Health.collect

    def batch(self, interface_id: int, counts: dict[str, int]) -> None:
        for stage, n in counts.items():
            if n:
                self.records.labels(str(interface_id), stage).inc(n)
        if counts.get("failed"):
            self.errors.labels(str(interface_id), "transient").inc(counts["failed"])

    def dead(self, interface_id: int, error_class: str) -> None:
        self.errors.labels(str(interface_id), error_class).inc()

    def run(self, interface_id: int, outcome: str, seconds: float) -> None:
        self.runs.labels(str(interface_id), outcome).inc()
        self.run_seconds.labels(str(interface_id)).observe(seconds)

    def write_latency(self, interface_id: int, target: str, seconds: float) -> None:
        self.write_seconds.labels(str(interface_id), target).observe(seconds)

    def lag(self, interface_id: int, seconds: float) -> None:
        self.delivery_lag.labels(str(interface_id)).observe(max(0.0, seconds))

    def loop(self, status) -> None:
        labels = (str(status.interface_id), status.kind)
        self.loop_up.labels(*labels).set(0 if status.down() else 1)
        self.loop_failures.labels(*labels).set(status.failures)
        iid = str(status.interface_id)
        if status.lag_seconds is not None:
            self.outbox_lag.labels(iid).set(status.lag_seconds)
        if status.owner is not None:
            self.owned.labels(iid).set(1 if status.owner else 0)
            self.holder_alive.labels(iid).set(1 if status.owner or status.holder_alive else 0)

    def invalid_definitions(self, files: dict[str, str]) -> None:
        self.invalid.clear()
        for name in files:
            self.invalid.labels(name).set(1)

    def render(self) -> bytes:
        for collect in self.collectors:
            try:
                collect(self)
            except Exception:  # a figure we cannot compute must not take /metrics down
                log.debug("metrics collector failed", exc_info=True)
        if self.store is not None:
            try:
                for iid, n in self.store.count_dead_letters().items():
                    self.dead_open.labels(str(iid)).set(n)
            except Exception:  # the state DB is down: /readyz says so, /metrics still answers
                log.debug("dead letters not counted", exc_info=True)
        return generate_latest(self.registry)
