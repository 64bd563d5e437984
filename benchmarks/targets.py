"""The speed targets of issues 6, 10 and 13 and how each is judged from the collected rows.

Absolute targets compare the median; ratio targets take the ratio within each
round (subjects measured back to back) and compare the median of those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .results import Results, Row, round_ratio

# Labels shared by the area modules, the targets and the docs.
OURS = "Queuack (this project)"
Q013 = "queuack 0.1.3 (PyPI)"
HUEY = "huey 3.5 SqliteHuey"
PQ = "persist-queue 1.1 SQLiteAckQueue"
FLOOR = "(ref: bare DuckDB INSERT per job)"
UPDATE_FLOOR = "(ref: bare DuckDB UPDATE per node)"

OURS_PG = "Queuack on PostgreSQL"
PGQUEUER = "PgQueuer 1.6 (asyncpg)"
PROCRASTINATE = "procrastinate 3.10"

THREADS_1 = "Queuack, 1 thread"
THREADS_2 = "Queuack, 2 threads"
THREADS_4 = "Queuack, 4 threads"
PROCESSES_2 = "Queuack, 2 processes"
NOOP_DRAIN = "drain, no-op jobs"
CPU_JOBS = "200 CPU-bound jobs of ~50 ms"
IO_JOBS = "200 I/O-bound jobs of 20 ms"
ACK_LOOP = "claim_batch(50) + ack() per job"

ENQ_ONE = "enqueue one by one"
ENQ_BATCH = "enqueue batch"
DRAIN = "drain through worker"

PG_ENQ_BATCH = "enqueue batch"
PG_DRAIN_1 = "drain, 1 worker process"
PG_DRAIN_4 = "drain, 4 worker processes"
PG_FANOUT = "DAG fan-out 1 -> N, 2 processes"

FANOUT = "DAG fan-out 1 -> N, execute"
CHAIN = "DAG chain of N, execute"
SUBMIT = "DAG build + submit (scaled to 10k nodes)"
CONTEXT = "context overhead per job"
EXECUTE = "Job.execute() of a context task"

MEM_PENDING = "RSS per pending job"
MEM_PENDING_LARGE = "RSS per pending job, a million"
MEM_RESULTS = "peak RSS, jobs returning 1 MB each"
MEM_ARG = "peak RSS, one large argument"

SCAN = "stdlib scan"
SCAN_QUICK = "scan of stdlib/email"
MIGRATE_SCAN = "migrate scan"
RUFF = "ruff --select ALL"
CHECK = "check on a clean file"
MIGRATE_CHECK = "migrate check"

LEGACY = "legacy tree, one process"
LEGACY_QUICK = "legacy tree (quick), one process"
MIGRATE_SCAN_1 = "migrate scan -j 1"
MIGRATE_DRY_RUN_1 = "migrate apply --dry-run -j 1"
PARSE_1 = "LibCST parse only (1 proc)"


@dataclass
class Verdict:
    status: str      # PASS, MISS, n/a
    measured: str    # what was compared, as text


@dataclass
class Target:
    area: str
    figure: str
    subject: str     # the row the target is printed beside
    text: str
    judge: Callable[[Results, "Target"], Verdict]

    def evaluate(self, results: Results) -> Verdict:
        try:
            return self.judge(results, self)
        except Exception as exc:  # a target must never break the table
            return Verdict("n/a", f"({type(exc).__name__})")


def _row(results: Results, t: Target, subject: str | None = None, figure: str | None = None) -> Row | None:
    row = results.get(t.area, figure or t.figure, subject or t.subject)
    return row if row is not None and row.by_round else None


def at_least(value: float, fmt: str = "{:,.0f}") -> Callable:
    def judge(results: Results, t: Target) -> Verdict:
        row = _row(results, t)
        if row is None:
            return Verdict("n/a", "not measured")
        m = row.median
        return Verdict("PASS" if m >= value else "MISS", fmt.format(m))
    return judge


def at_most(value: float, fmt: str = "{:.3g}") -> Callable:
    def judge(results: Results, t: Target) -> Verdict:
        row = _row(results, t)
        if row is None:
            return Verdict("n/a", "not measured")
        m = row.median
        return Verdict("PASS" if m <= value else "MISS", fmt.format(m))
    return judge


def ratio_at_least(factor: float, *others: str) -> Callable:
    def judge(results: Results, t: Target) -> Verdict:
        a = _row(results, t)
        bs = [_row(results, t, subject=o) for o in others]
        ratio, rounds = round_ratio(a, bs, combine=max)
        if ratio is None:
            return Verdict("n/a", "not measured")
        return Verdict("PASS" if ratio >= factor else "MISS", f"{ratio:,.1f}x")
    return judge


def time_ratio_at_most(factor: float, other: str) -> Callable:
    def judge(results: Results, t: Target) -> Verdict:
        ratio, rounds = round_ratio(_row(results, t), [_row(results, t, subject=other)])
        if ratio is None:
            return Verdict("n/a", "not measured")
        return Verdict("PASS" if ratio <= factor else "MISS", f"{ratio:.2f}x")
    return judge


def zero_findings(results: Results, t: Target) -> Verdict:
    row = _row(results, t)
    if row is None:
        return Verdict("n/a", "not measured")
    counts = row.extra.get("findings", [])
    worst = max(counts) if counts else None
    if worst is None:
        return Verdict("n/a", "no count")
    return Verdict("PASS" if worst == 0 else "MISS", f"{worst} findings")


def beyond_duckdb_under(limit: float) -> Callable:
    def judge(results: Results, t: Target) -> Verdict:
        row = _row(results, t)
        if row is None:
            return Verdict("n/a", "not measured")
        values = sorted(row.extra.get("beyond_duckdb_per_job", []))
        if not values:
            return Verdict("n/a", "not measured")
        m = values[len(values) // 2]
        return Verdict("PASS" if m < limit else "MISS", f"{m:.0f} B/job")
    return judge


def not_judged(reason: str) -> Callable:
    def judge(results: Results, t: Target) -> Verdict:
        return Verdict("n/a", reason)
    return judge


def all_targets(scan_figure: str = SCAN) -> list[Target]:
    quick = scan_figure != SCAN
    return [
        Target("queue", ENQ_ONE, OURS, ">= 5x queuack 0.1.3", ratio_at_least(5, Q013)),
        Target("queue", ENQ_BATCH, OURS, ">= 10,000 jobs/s", at_least(10_000)),
        Target("queue", DRAIN, OURS, ">= 5,000 jobs/s", at_least(5_000)),
        Target("queue", DRAIN, OURS, ">= 25x queuack 0.1.3", ratio_at_least(25, Q013)),
        Target("queue", DRAIN, OURS, ">= 3x best SQLite peer", ratio_at_least(3, HUEY, PQ)),
        # issue 10: PostgreSQL, side by side on one throwaway server
        Target("postgres", PG_ENQ_BATCH, OURS_PG, ">= PgQueuer", ratio_at_least(1, PGQUEUER)),
        Target("postgres", PG_DRAIN_1, OURS_PG, ">= PgQueuer", ratio_at_least(1, PGQUEUER)),
        Target("postgres", PG_DRAIN_1, OURS_PG, ">= 5x procrastinate", ratio_at_least(5, PROCRASTINATE)),
        Target("postgres", PG_DRAIN_4, OURS_PG, ">= PgQueuer", ratio_at_least(1, PGQUEUER)),
        Target("postgres", PG_DRAIN_4, OURS_PG, ">= 5x procrastinate", ratio_at_least(5, PROCRASTINATE)),
        Target("postgres", PG_FANOUT, OURS_PG, ">= 2,000 nodes/s", at_least(2_000)),
        # issue 11: threads without a penalty, processes for every core, fast single acks
        Target("workers", NOOP_DRAIN, THREADS_4, ">= 0.8x 1 thread", ratio_at_least(0.8, THREADS_1)),
        Target("workers", CPU_JOBS, PROCESSES_2, ">= 1.7x 2 threads", ratio_at_least(1.7, THREADS_2)),
        Target("workers", IO_JOBS, THREADS_4, ">= 3.5x 1 thread", ratio_at_least(3.5, THREADS_1)),
        Target("workers", ACK_LOOP, OURS, ">= 2,000 jobs/s", at_least(2_000)),
        Target("dag", FANOUT, OURS, ">= 2,000 nodes/s", at_least(2_000)),
        Target("dag", CHAIN, OURS, ">= 300 nodes/s", at_least(300)),
        Target("dag", SUBMIT, OURS, "<= 1 s", at_most(1.0, "{:.2f} s")),
        Target("dag", CONTEXT, OURS, "<= 20 µs", at_most(20.0, "{:.1f} µs")),
        Target("memory", MEM_PENDING_LARGE, OURS, "< 200 B/job beyond DuckDB", beyond_duckdb_under(200)),
        Target("migrate", scan_figure, MIGRATE_SCAN, "<= 2x ruff",
               # 29 files: interpreter start-up decides, not the scan
               not_judged("smoke run") if quick else time_ratio_at_most(2.0, RUFF)),
        Target("migrate", scan_figure, MIGRATE_SCAN, "zero findings", zero_findings),
        Target("migrate", CHECK, MIGRATE_CHECK, "< 0.5 s", at_most(0.5, "{:.2f} s")),
        # issue 13: every file of the tree needs analysis; against a plain parse of it
        Target("migrate", LEGACY_QUICK if quick else LEGACY, MIGRATE_SCAN_1, "<= 1.5x the parse",
               time_ratio_at_most(1.5, PARSE_1)),
        Target("migrate", LEGACY_QUICK if quick else LEGACY, MIGRATE_DRY_RUN_1,
               "<= 2.5x the parse", time_ratio_at_most(2.5, PARSE_1)),
    ]
