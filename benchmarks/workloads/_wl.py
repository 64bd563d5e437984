"""Helpers shared by the workload scripts.

The scripts run under several interpreters (the project venv and the peer
venvs under .bench/), so this module uses the standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import shutil
import sys
import tempfile
import time


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--tmp", default=None, help="directory for database files")
    return p


@contextlib.contextmanager
def scratch_dir(base: str | None):
    """A fresh directory for one measurement's database files."""
    path = tempfile.mkdtemp(prefix="qbench-", dir=base)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def no_gc():
    """Keep the cyclic collector from landing inside a timed region."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def timed(fn, *args, **kwargs) -> float:
    """Wall time of one call. The collector stays on: it is part of real throughput;
    only leftovers of the setup are collected before the clock starts."""
    gc.collect()
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def figure(n: int, seconds: float, **extra) -> dict:
    out = {"n": n, "seconds": seconds, "per_sec": (n / seconds) if seconds > 0 else None}
    out.update(extra)
    return out


def emit(payload: dict) -> None:
    """Print the result as the last line of stdout, where the runner looks."""
    sys.stdout.flush()
    sys.stdout.write("\n" + json.dumps(payload) + "\n")
    sys.stdout.flush()


def measure_enqueue_one(open_queue, job, base: str | None, n: int) -> dict:
    """n lone enqueue() calls of `job` on a fresh DuckQueue-like queue from open_queue(dir)."""
    with scratch_dir(base) as d:
        q = open_queue(d)
        try:
            def body():
                for i in range(n):
                    q.enqueue(job, args=(i,))
            secs = timed(body)
            assert q.stats()["pending"] == n, q.stats()
        finally:
            q.close()
    return figure(n, secs)


def measure_enqueue_batch(open_queue, job, base: str | None, n: int, batch: int) -> dict:
    """n jobs through enqueue_batch(), `batch` at a time."""
    with scratch_dir(base) as d:
        q = open_queue(d)
        try:
            items = [(job, (i,), {}) for i in range(n)]

            def body():
                for k in range(0, n, batch):
                    q.enqueue_batch(items[k:k + batch])
            secs = timed(body)
            assert q.stats()["pending"] == n, q.stats()
        finally:
            q.close()
    return figure(n, secs, batch=batch)


def run_sqlite_peer(description: str, measure_enqueue_one, measure_drain) -> None:
    """main() of a peer without a batch API: one-by-one enqueue and drain."""
    p = parser(description)
    p.add_argument("--n-one", type=int, default=5000)
    p.add_argument("--n-drain", type=int, default=10000)
    a = p.parse_args()
    emit({
        "enqueue_one": measure_enqueue_one(a.tmp, a.n_one),
        "enqueue_batch": None,
        "drain": measure_drain(a.tmp, a.n_drain),
    })



def pg_parser(description: str) -> argparse.ArgumentParser:
    """The command line of the PostgreSQL workloads (pg_*.py): one fresh database URL per figure."""
    p = parser(description)
    p.add_argument("--url", action="append", required=True, help="one database URL per figure, in order")
    p.add_argument("--n-batch", type=int, default=20000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--n-drain", type=int, default=20000)
    p.add_argument("--n-dag", type=int, default=1000)
    return p


def forked_workers(target, args: tuple, processes: int, until=None) -> float:
    """Fork `processes` workers running target(*args, ready, go, stop), release them together once
    all are ready (start-up untimed), and return the seconds until all have returned, or until
    `until()` returns (then `stop` is set and they are joined)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    ready, go, stop = ctx.Barrier(processes + 1), ctx.Barrier(processes + 1), ctx.Event()
    procs = [ctx.Process(target=target, args=(*args, ready, go, stop)) for _ in range(processes)]
    for p in procs:
        p.start()
    ready.wait()
    start = time.perf_counter()
    go.wait()
    if until is not None:
        until()
    else:
        for p in procs:
            p.join()
    secs = time.perf_counter() - start
    stop.set()
    for p in procs:
        p.join()
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    return secs
