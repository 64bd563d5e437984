"""Memory figures (issue 9): what pending jobs and large values cost this project.

- RSS per pending job, N pending: a fresh process opens a file that holds N
  pending no-op jobs; the growth of its RSS divided by N (bytes per job, lower
  is better). Beside it, what is left after DuckDB's own reported memory
  (duckdb_memory()) is taken away: the schedule kept in Python. Target: under
  200 bytes per pending job beyond DuckDB's cache.
- peak RSS, N results of 1 MB: a fresh process enqueues N jobs that each
  return 1 MB of random bytes and runs them with Worker(q).run(burst=True);
  its peak RSS (MB). Beside it, the disk used after close: database, WAL and
  the directory of large values (about N MB is the value's own size).
- peak RSS, one 100 MB argument: one job whose argument is 100 MB, enqueued
  and run; peak RSS.

Only this project is measured: the peers keep no comparable state.
"""

from __future__ import annotations

from . import common
from .common import log
from .targets import MEM_ARG, MEM_PENDING, MEM_PENDING_LARGE, MEM_RESULTS, OURS

FULL = {"pending": 200_000, "pending_large": 1_000_000, "results": 1000, "arg_mb": 100}
QUICK = {"pending": 20_000, "pending_large": None, "results": 50, "arg_mb": 20}


def run(cfg, results) -> None:
    sizes = QUICK if cfg.quick else FULL
    for r in range(cfg.runs):
        log(f"memory round {r + 1}/{cfg.runs}")
        for figure, n in ((MEM_PENDING, sizes["pending"]), (MEM_PENDING_LARGE, sizes["pending_large"])):
            if n:
                _measure(results, figure, r, ["--pending", str(n)], lambda out: _pending(results, figure, r, out))
        _measure(results, MEM_RESULTS, r, ["--results", str(sizes["results"]), "--mb", "1"],
                 lambda out: _peak(results, MEM_RESULTS, r, out["results"]))
        _measure(results, MEM_ARG, r, ["--arg-mb", str(sizes["arg_mb"])],
                 lambda out: _peak(results, MEM_ARG, r, out["arg"]))


def _measure(results, figure, r, args, record) -> None:
    try:
        record(common.run_workload(common.PROJECT_PYTHON, "memory_workload.py", args))
    except Exception as exc:
        results.error("memory", figure, OURS, exc)
        log(f"  {figure} failed: {str(exc).splitlines()[0]}")


def _pending(results, figure, r, out) -> None:
    f = out["pending"]
    results.add("memory", figure, OURS, r, f["per_job"], n=f["n"], unit="B/job", higher_is_better=False,
                extra={"beyond_duckdb_per_job": f["beyond_duckdb_per_job"], "rss_mb": f["rss_bytes"] / 2**20,
                       "duckdb_mb": f["duckdb_bytes"] / 2**20})
    row = results.row("memory", figure, OURS)
    row.extra["note"] = f"{f['beyond_duckdb_per_job']:.0f} B/job beyond DuckDB's {f['duckdb_bytes'] / 2**20:.0f} MB"
    log(f"  {figure}: {f['per_job']:.0f} B/job ({f['beyond_duckdb_per_job']:.0f} beyond DuckDB)")


def _peak(results, figure, r, f) -> None:
    peak_mb = f["peak_rss_bytes"] / 2**20
    results.add("memory", figure, OURS, r, peak_mb, n=f["n"], unit="MB", higher_is_better=False,
                extra={"disk_mb": f["disk_bytes"] / 2**20, "start_rss_mb": f["start_rss_bytes"] / 2**20})
    row = results.row("memory", figure, OURS)
    row.extra["note"] = f"{f['n'] * f['mb']:,} MB of values; {f['disk_bytes'] / 2**20:,.0f} MB on disk"
    log(f"  {figure}: peak {peak_mb:,.0f} MB, disk {f['disk_bytes'] / 2**20:,.0f} MB")
