"""`/metrics`: the queue's state in the Prometheus text format, read from the backend (so `queuack ui`
reports on workers running elsewhere). The counts come through the dashboard's shared reads
(app.Shared): scrapes and page views within SHARED_SECONDS of each other share one read. No read
here counts the finished jobs row by row (see Backend.counts and claim_latency).

The counters count the jobs stored as done or failed: purging finished jobs lowers them, which
Prometheus treats as a counter reset (rate() and increase() stay right)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector

from ..backend import THROUGHPUT_WINDOW, Backend, Overview

RUN_STATUSES = ("pending", "running", "done", "failed", "cancelled")


class QueueCollector(Collector):
    def __init__(self, backend: Backend, overview: Callable[[], Overview], run_counts: Callable[[], dict[str, int]]):
        self.backend = backend
        self.overview = overview
        self.run_counts = run_counts

    def collect(self):
        view = self.overview()
        jobs = GaugeMetricFamily("queuack_jobs", "Jobs stored, by queue and status.", labels=["queue", "status"])
        done = CounterMetricFamily("queuack_jobs_completed", "Jobs that finished successfully, by queue.",
                                   labels=["queue"])
        failed = CounterMetricFamily("queuack_jobs_failed", "Jobs that failed for good (dead letters), by queue.",
                                     labels=["queue"])
        for queue, counts in sorted(view.counts.items()):
            for status, n in counts.items():
                jobs.add_metric([queue, status], n)
            done.add_metric([queue], counts.get("done", 0))
            failed.add_metric([queue], counts.get("failed", 0))
        yield from (jobs, done, failed)
        count, total = self.backend.claim_latency(THROUGHPUT_WINDOW)
        latency = SummaryMetricFamily(
            "queuack_claim_latency_seconds",
            "Seconds from ready (created or due) to claimed, for the jobs that finished (done, or failed for good) "
            f"in the last {THROUGHPUT_WINDOW:g}s.")
        latency.add_metric([], count, total)
        yield latency
        runs = GaugeMetricFamily("queuack_dag_runs", "DAG runs by status.", labels=["status"])
        by_status = self.run_counts()
        for status in RUN_STATUSES:
            runs.add_metric([status], by_status.get(status, 0))
        yield runs


def metrics_text(backend: Backend, overview: Callable[[], Overview],
                 run_counts: Callable[[], dict[str, int]]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector(backend, overview, run_counts))
    return generate_latest(registry)
