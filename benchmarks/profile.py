"""Profile one of this project's figures with cProfile and print the top entries.

    python -m benchmarks.profile enqueue_one        # or: enqueue_batch, drain, fanout, chain, submit
    python -m benchmarks.profile drain --n 5000 --sort tottime --limit 30
    python -m benchmarks.profile scan               # or: dry_run, parse (migrate on a legacy tree)

Runs in this interpreter (the project venv), against a database file in a
temporary directory, the same workload as the benchmark figure. The migrate
figures run `migrate scan` / `migrate apply --dry-run` in one process (no
worker pool) on a generated tree of N legacy modules (benchmarks/legacy_tree.py),
or only parse its files with LibCST ("parse"), and print the CPU time beside
the profile.
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
MIGRATE_FIGURES = ["scan", "dry_run", "parse"]


def migrate_call(figure: str, base: str, n: int):
    """The call that one migrate figure times, on a fresh legacy tree of n modules."""
    from pathlib import Path

    from migrate import engine

    from .legacy_tree import generate

    tree = generate(Path(base) / "legacy", n)
    if figure == "parse":
        import libcst

        files = sorted(tree.rglob("*.py"))
        return lambda: [libcst.parse_module(f.read_bytes()) for f in files] and len(files)
    settings = engine.load_settings([str(tree)], jobs=1, use_config=False)

    def call():
        result = engine.run([str(tree)], settings, fix=figure == "dry_run")
        if figure == "dry_run":  # what `apply --dry-run` prints
            diffs = [engine.unified_diff(f.text, new, f.source.display) for f, new in result.changed()]
            return f"{len(result.findings)} findings, {len(diffs)} diffs"
        return f"{len(result.findings)} findings"
    return call


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("figure", choices=FIGURES + MIGRATE_FIGURES)
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
    if a.figure in MIGRATE_FIGURES:
        n = a.n or 300
        call = migrate_call(a.figure, base, n)
    elif a.figure in ("enqueue_one", "enqueue_batch", "drain"):
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
    import time

    cpu = time.process_time()
    prof.enable()
    result = call()
    prof.disable()
    cpu = time.process_time() - cpu
    print(f"{a.figure}: {result}; {cpu:.2f} s CPU under the profiler")
    stats = pstats.Stats(prof).strip_dirs().sort_stats(a.sort)
    stats.print_stats(a.limit)
    if a.out:
        prof.dump_stats(a.out)
    import shutil

    shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
