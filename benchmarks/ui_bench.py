"""Dashboard page load times (issue 14) with a million finished jobs in the queue.

A DuckDB file is filled with N finished jobs (a tenth of them in DAG runs of ten nodes, one in a
thousand failed) and a few hundred pending ones; `queuack ui`'s server then runs in this process
(uvicorn on a free loopback port) and each page is fetched over HTTP: one warm-up fetch, then the
median of five, in milliseconds. The pages: the overview, the first page of jobs, jobs filtered by
queue and by status, a page deep in the listing (keyset: no OFFSET), a job, the DAG runs, a run's
graph, the dead letters and /metrics.

The overview and /metrics share one whole-table count between requests within a couple of seconds
(ui.app.Shared), so the medians of quick fetches show a page that finds the count ready; "(count
read afresh)" fetches the two again, each after the shared count has expired, as a lone viewer
polling every few seconds or a Prometheus scrape every 15 s sees them.

The rows are written straight into the file (copies of one enqueued job) so that filling it takes
seconds rather than the minutes of a million enqueues; what is timed is the dashboard only.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import urllib.request

from .common import log
from .targets import OURS

FULL, QUICK = 1_000_000, 50_000
ROUNDS = 5


def noop():
    return None


def fill(path: str, n: int) -> dict:
    """A queue file with n finished jobs; returns ids to visit."""
    import duckdb

    from queuack import DuckQueue

    with DuckQueue(path) as q:
        template = q.enqueue(noop)
    conn = duckdb.connect(path)
    try:
        conn.execute("SET schema = 'queuack'")
        conn.execute(f"""
            INSERT INTO jobs (id, queue, status, priority, seq, codec, func, args, kwargs, created_at, execute_after,
                              attempts, max_attempts, claimed_at, completed_at, error, node_name, dag_run_id,
                              dependency_mode)
            SELECT 'job-' || i, 'q' || (i % 8), CASE WHEN i % 1000 = 0 THEN 'failed' ELSE 'done' END, 50, i + 10,
                   t.codec, t.func, t.args, t.kwargs, epoch(now()) - 86400 + i * 0.05, epoch(now()) - 86400 + i * 0.05,
                   1, 1, epoch(now()) - 86400 + i * 0.05 + 0.01, epoch(now()) - 86400 + i * 0.05 + 0.02,
                   CASE WHEN i % 1000 = 0 THEN 'ValueError: row ' || i END,
                   CASE WHEN i % 10 = 0 OR i >= {n // 10} THEN NULL ELSE 'node' || (i % 10) END,
                   CASE WHEN i < {n // 10} THEN 'run-' || (i // 10) END, 'all'
            FROM range({n}) r(i), (SELECT codec, func, args, kwargs FROM jobs WHERE id = ?) t""", [template])
        conn.execute("""INSERT INTO dag_runs (id, name, created_at)
                        SELECT DISTINCT dag_run_id, 'etl', min(created_at) FROM jobs WHERE dag_run_id IS NOT NULL
                        GROUP BY dag_run_id""")
        conn.execute("""INSERT INTO job_dependencies SELECT 'job-' || i, 'job-' || (i - 1), 0 FROM range(?) r(i)
                        WHERE i % 10 <> 0""", [n // 10])
        conn.execute("CHECKPOINT")
    finally:
        conn.close()
    return {"job": f"job-{n // 2}", "run": f"run-{n // 200}", "deep": n // 2}


def pages(ids: dict) -> dict[str, str]:
    return {
        "overview": "/",
        "jobs, first page": "/jobs",
        "jobs of one queue": "/jobs?queue=q3",
        "failed jobs": "/jobs?status=failed",
        "jobs, a page in the middle": f"/jobs?before={ids['deep']}",
        "one job": f"/jobs/{ids['job']}",
        "DAG runs": "/runs",
        "a DAG run's graph": f"/runs/{ids['run']}",
        "dead letters": "/dead-letters",
        "/metrics": "/metrics",
    }


def fetch_ms(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as answer:
        answer.read()
    return (time.perf_counter() - started) * 1000


def afresh_ms(url: str) -> float:
    from queuack.ui.app import SHARED_SECONDS

    time.sleep(SHARED_SECONDS)
    return fetch_ms(url)


def run(cfg, results) -> None:
    from queuack import DuckQueue
    from queuack.ui import serve

    n = QUICK if cfg.quick else (cfg.n or FULL)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        path = os.path.join(tmp, "dashboard.duckdb")
        log(f"ui: filling {path} with {n:,} finished jobs")
        ids = fill(path, n)
        queue = DuckQueue(path)
        server = serve(queue, port=0, announce=lambda line: None, in_thread=True)
        try:
            host, port = server.servers[0].sockets[0].getsockname()[:2]
            for name, page in pages(ids).items():
                url = f"http://{host}:{port}{page}"
                for r in range(cfg.runs):
                    fetch_ms(url)  # warm-up: DuckDB's cache, templates
                    value = statistics.median(fetch_ms(url) for _ in range(ROUNDS))
                    results.add("ui", f"page load: {name}", OURS, r, value, n=n, unit="ms", higher_is_better=False)
                log(f"  {name}: {results.row('ui', f'page load: {name}', OURS).median:.1f} ms")
            for name, page in (("overview", "/"), ("/metrics", "/metrics")):
                url, figure = f"http://{host}:{port}{page}", f"page load: {name} (count read afresh)"
                for r in range(cfg.runs):
                    value = statistics.median(afresh_ms(url) for _ in range(ROUNDS))
                    results.add("ui", figure, OURS, r, value, n=n, unit="ms", higher_is_better=False)
                log(f"  {name} (count read afresh): {results.row('ui', figure, OURS).median:.1f} ms")
        finally:
            server.should_exit = True
            queue.close()
