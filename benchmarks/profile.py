"""Profile one of this project's figures with cProfile and print the top entries.

    python -m benchmarks.profile enqueue_one        # or: enqueue_batch, drain, fanout, chain, submit
    python -m benchmarks.profile drain --n 5000 --sort tottime --limit 30

Runs in this interpreter (the project venv), against a database file in a
temporary directory, the same workload as the benchmark figure.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile

from .common import WORKLOADS

FIGURES = ["enqueue_one", "enqueue_batch", "drain", "fanout", "chain", "submit"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("figure", choices=FIGURES)
    p.add_argument("--n", type=int, default=None)
    p.add_argument("--sort", default="cumulative", help="pstats sort key (cumulative, tottime, ...)")
    p.add_argument("--limit", type=int, default=25)
    p.add_argument("--out", default=None, help="also save the raw profile here (for snakeviz etc.)")
    a = p.parse_args(argv)

    sys.path.insert(0, str(WORKLOADS))
    import dag_workload  # noqa: E402  (the workload scripts are plain modules)
    import queue_ours  # noqa: E402
    from queuack import DuckQueue, Worker

    base = tempfile.mkdtemp(prefix="qprof-")
    prof = cProfile.Profile()
    if a.figure in ("enqueue_one", "enqueue_batch", "drain"):
        n = a.n or {"enqueue_one": 2000, "enqueue_batch": 10000, "drain": 10000}[a.figure]
        if a.figure == "enqueue_one":
            call = lambda: queue_ours.measure_enqueue_one(DuckQueue, base, n)  # noqa: E731
        elif a.figure == "enqueue_batch":
            call = lambda: queue_ours.measure_enqueue_batch(DuckQueue, base, n, 1000)  # noqa: E731
        else:
            call = lambda: queue_ours.measure_drain(DuckQueue, Worker, base, n, 1)  # noqa: E731
    else:
        fl = dag_workload.Flavor("ours")
        fn = {"fanout": dag_workload.measure_fanout, "chain": dag_workload.measure_chain,
              "submit": dag_workload.measure_submit}[a.figure]
        n = a.n or {"fanout": 1000, "chain": 200, "submit": 10000}[a.figure]
        call = lambda: fn(fl, base, n)  # noqa: E731
    # the figure's setup (database creation, untimed enqueues) is profiled too;
    # read the entries under the timed call
    prof.enable()
    result = call()
    prof.disable()
    print(f"{a.figure}: {result}")
    stats = pstats.Stats(prof).strip_dirs().sort_stats(a.sort)
    stats.print_stats(a.limit)
    if a.out:
        prof.dump_stats(a.out)
    os.rmdir(base) if os.path.isdir(base) and not os.listdir(base) else None
    return 0


if __name__ == "__main__":
    sys.exit(main())
