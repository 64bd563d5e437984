"""Memory figures for this project's ``queuack`` (run with the project venv).

--pending N: a file holding N pending no-op jobs is opened by a fresh process;
  prints {"pending": {"n", "rss_bytes", "duckdb_bytes", "per_job", "beyond_duckdb_per_job"}}:
  how much the process grew by opening it (the schedule rebuilt from the rows),
  measured from an already opened empty queue so that imports and DuckDB's own
  start-up do not count. The file is built untimed: 10,000 jobs through
  enqueue_batch, then copied inside DuckDB with fresh ids and seqs up to N (the
  API would take minutes for a million).
--results N --mb M: N jobs that each return M MB, run by Worker(q).run(burst=True)
  from a fresh process; prints {"results": {"n", "mb", "peak_rss_bytes",
  "start_rss_bytes", "disk_bytes"}}, disk being the database, its WAL and the
  directory of large values after close.
--arg-mb M: one job whose argument is M MB, enqueued and run; peak RSS as above.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys

import _wl

SEED = 10_000


def noop(i=0):
    return None


def big_result(mb):
    return os.urandom(mb << 20)


def length(blob):
    return len(blob)


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def disk(path: str) -> int:
    total = sum(os.path.getsize(path + s) for s in ("", ".wal") if os.path.exists(path + s))
    values = path + ".queuack-values"
    if os.path.isdir(values):
        total += sum(os.path.getsize(os.path.join(values, f)) for f in os.listdir(values))
    return total


def build_pending(path: str, n: int) -> None:
    import duckdb
    from queuack import DuckQueue

    with DuckQueue(path) as q:
        items = [(noop, (i,), {}) for i in range(1000)]
        for _ in range(min(n, SEED) // 1000):
            q.enqueue_batch(items)
    if n <= SEED:
        return
    con = duckdb.connect(path)
    try:
        cols = [r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'queuack' AND table_name = 'jobs' "
            "ORDER BY column_index").fetchall()]
        select = ", ".join("uuid()::VARCHAR" if c == "id" else f"seq + {SEED} * k" if c == "seq" else c for c in cols)
        con.execute(f"INSERT INTO queuack.jobs SELECT {select} FROM queuack.jobs, range(1, {n // SEED}) t(k)")
    finally:
        con.close()


def open_pending(path: str, empty: str) -> dict:
    """Runs in a fresh process: the growth of opening `path`, from an opened empty queue."""
    from queuack import DuckQueue

    DuckQueue(empty).close()  # imports, DuckDB start-up and its allocator's first arenas
    before = rss()
    q = DuckQueue(path)
    grown = rss() - before
    duck = q._live_store().query("SELECT sum(memory_usage_bytes) FROM duckdb_memory()")[0][0] or 0
    n = q.stats()["pending"]
    q.close()
    return {"n": n, "rss_bytes": grown, "duckdb_bytes": duck, "per_job": grown / n,
            "beyond_duckdb_per_job": (grown - duck) / n}


def run_results(path: str, n: int, mb: int) -> dict:
    from queuack import DuckQueue, Worker

    start = rss()
    with DuckQueue(path) as q:
        q.enqueue_batch([(big_result, (mb,), {}) for _ in range(n)])
        Worker(q).run(burst=True)
        assert q.stats()["done"] == n, q.stats()
    return {"n": n, "mb": mb, "peak_rss_bytes": peak(), "start_rss_bytes": start, "disk_bytes": disk(path)}


def run_arg(path: str, mb: int) -> dict:
    from queuack import DuckQueue, Worker

    start = rss()
    with DuckQueue(path) as q:
        blob = os.urandom(mb << 20)
        q.enqueue(length, args=(blob,))
        del blob
        Worker(q).run(burst=True)
        assert q.stats()["done"] == 1, q.stats()
    return {"n": 1, "mb": mb, "peak_rss_bytes": peak(), "start_rss_bytes": start, "disk_bytes": disk(path)}


def in_fresh_process(*args: str) -> dict:
    import json

    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = _wl.parser(__doc__)
    p.add_argument("--pending", type=int, default=None)
    p.add_argument("--results", type=int, default=None)
    p.add_argument("--mb", type=int, default=1)
    p.add_argument("--arg-mb", type=int, default=None)
    p.add_argument("--open", nargs=2, default=None, help=argparse.SUPPRESS)  # the measuring child
    a = p.parse_args()
    if a.open:
        _wl.emit(open_pending(*a.open))
        return
    out = {}
    with _wl.scratch_dir(a.tmp) as d:
        if a.pending:
            path, empty = os.path.join(d, "pending.duckdb"), os.path.join(d, "empty.duckdb")
            build_pending(path, a.pending)
            out["pending"] = in_fresh_process("--open", path, empty)
        if a.results:
            out["results"] = run_results(os.path.join(d, "results.duckdb"), a.results, a.mb)
        if a.arg_mb:
            out["arg"] = run_arg(os.path.join(d, "arg.duckdb"), a.arg_mb)
    _wl.emit(out)


if __name__ == "__main__":
    sys.exit(main())
