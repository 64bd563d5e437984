"""Worker figures (issue 11): threads and processes side by side, in one run.

- drain, no-op jobs: N trivial jobs on a file queue through Worker(q,
  concurrency=1), Worker(q, concurrency=4) (threads) and Worker(q,
  concurrency=2, pool="process"). Target: 4 threads >= 0.8x one thread.
- 200 CPU-bound jobs of ~50 ms: pure-Python work through 2 threads and 2
  processes (jobs/s). Target on a 2-core machine: processes >= 1.7x threads.
- 200 I/O-bound jobs of 20 ms: time.sleep(0.02) through 1 and 4 threads
  (jobs/s). Target: 4 threads >= 3.5x one thread (4x is the ideal).
- claim_batch + ack() loop: a user's own loop acknowledging one job at a time.
  Target: >= 2,000 jobs/s.

Ratios are taken within each round (one subprocess measures all of them).
"""

from __future__ import annotations

from . import common
from .common import log
from .targets import (ACK_LOOP, CPU_JOBS, IO_JOBS, NOOP_DRAIN, OURS, PROCESSES_2, THREADS_1, THREADS_2,
                      THREADS_4)

FULL = {"n_drain": 10000, "n_cpu": 200, "n_io": 200, "n_ack": 2000}
QUICK = {"n_drain": 2000, "n_cpu": 40, "n_io": 40, "n_ack": 500}
_DRAIN = {"threads_1": THREADS_1, "threads_4": THREADS_4, "processes_2": PROCESSES_2}
_CPU = {"threads_2": THREADS_2, "processes_2": PROCESSES_2}
_IO = {"threads_1": THREADS_1, "threads_4": THREADS_4}


def run(cfg, results) -> None:
    sizes = dict(QUICK if cfg.quick else FULL)
    args = [a for k, v in sizes.items() for a in (f"--{k.replace('_', '-')}", str(v))]
    for r in range(cfg.runs):
        log(f"workers round {r + 1}/{cfg.runs}")
        try:
            out = common.run_workload(common.PROJECT_PYTHON, "workers_ours.py", args)
        except Exception as exc:
            for figure in (NOOP_DRAIN, CPU_JOBS, IO_JOBS, ACK_LOOP):
                results.error("workers", figure, OURS, exc)
            log(f"  failed: {str(exc).splitlines()[0]}")
            continue
        for figure, labels, key in ((NOOP_DRAIN, _DRAIN, "drain"), (CPU_JOBS, _CPU, "cpu"), (IO_JOBS, _IO, "io")):
            for name, label in labels.items():
                f = out[key][name]
                results.add("workers", figure, label, r, f["per_sec"], n=f["n"], unit="jobs/s",
                            extra={"seconds": f["seconds"]})
                log(f"  {key} {name}: {f['per_sec']:,.0f} jobs/s")
        f = out["ack_loop"]
        results.add("workers", ACK_LOOP, OURS, r, f["per_sec"], n=f["n"], unit="jobs/s")
        log(f"  ack loop: {f['per_sec']:,.0f} jobs/s")
