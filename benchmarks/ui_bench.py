"""Dashboard page load times (issue 14) with a million finished jobs in the queue.

A DuckDB file, then a database on a throwaway PostgreSQL server (tests/pgserver.py; skipped when
none can start), is filled with N finished jobs (a tenth of them in DAG runs of ten nodes, one in a
thousand failed); `queuack ui`'s server then runs in this process
(uvicorn on a free loopback port) and each page is fetched over HTTP: one warm-up fetch, then the
median of five, in milliseconds. The pages: the overview, the first page of jobs, jobs filtered by
queue and by status, a page deep in the listing (keyset: no OFFSET), a job, the DAG runs, a run's
graph, the dead letters and /metrics.

The overview and /metrics share their counts between requests within a couple of seconds
(ui.app.Shared), so the medians of quick fetches show a page that finds them ready; "(count read
afresh)" fetches the two again, each after the shared read has expired, as a lone viewer polling
every few seconds or a Prometheus scrape every 15 s sees them.

The rows are written straight into the database (copies of one enqueued job) so that filling it takes
seconds rather than the minutes of a million enqueues; what is timed is the dashboard only. On
PostgreSQL the finished jobs are then counted into queuack.tallies (postgres.count_finished), as
queuack's own statements would have counted them; a DuckDB store counts them the first time it is
asked (the warm-up fetch).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import urllib.request

from . import common
from .common import log
from .targets import OURS

FULL, QUICK = 1_000_000, 50_000
ROUNDS = 5


def noop():
    return None


ROWS = """
    INSERT INTO {schema}jobs (id, queue, status, priority, seq, codec, func, args, kwargs, created_at, execute_after,
                              attempts, max_attempts, claimed_at, completed_at, error, node_name, dag_run_id,
                              dependency_mode)
    SELECT 'job-' || i, 'q' || (i % 8), CASE WHEN i % 1000 = 0 THEN 'failed' ELSE 'done' END, 50, i + 10,
           t.codec, t.func, t.args, t.kwargs, {now} - 86400 + i * 0.05, {now} - 86400 + i * 0.05,
           1, 1, {now} - 86400 + i * 0.05 + 0.01, {now} - 86400 + i * 0.05 + 0.02,
           CASE WHEN i % 1000 = 0 THEN 'ValueError: row ' || i END,
           CASE WHEN i % 10 = 0 OR i >= {runs_end} THEN NULL ELSE 'node' || (i % 10) END,
           CASE WHEN i < {runs_end} THEN 'run-' || (i / 10) END, 'all'
    FROM {numbers} r(i), (SELECT codec, func, args, kwargs FROM {schema}jobs WHERE id = %(template)s) t"""
RUNS = """INSERT INTO {schema}dag_runs (id, name, created_at)
          SELECT dag_run_id, 'etl', min(created_at) FROM {schema}jobs WHERE dag_run_id IS NOT NULL GROUP BY dag_run_id"""
EDGES = """INSERT INTO {schema}job_dependencies (child_id, parent_id, position)
           SELECT 'job-' || i, 'job-' || (i - 1), 0 FROM {numbers_runs} r(i) WHERE i % 10 <> 0"""


def fill(location: str, n: int) -> dict:
    """A queue (a DuckDB file or a PostgreSQL URL) with n finished jobs; returns ids to visit."""
    from queuack import DuckQueue

    with DuckQueue(location) as q:
        template = q.enqueue(noop)
    if location.startswith(("postgresql://", "postgres://")):
        _fill_postgres(location, n, template)
    else:
        _fill_duckdb(location, n, template)
    return {"job": f"job-{n // 2}", "run": f"run-{n // 200}", "deep": n // 2}


def _fill_duckdb(path: str, n: int, template: str) -> None:
    import duckdb

    words = dict(schema="", now="epoch(now())", runs_end=n // 10, numbers=f"range({n})",
                 numbers_runs=f"range({n // 10})")
    conn = duckdb.connect(path)
    try:
        conn.execute("SET schema = 'queuack'")
        conn.execute(ROWS.format(**words).replace("%(template)s", "$template").replace("(i / 10)", "(i // 10)"),
                     {"template": template})
        conn.execute(RUNS.format(**words))
        conn.execute(EDGES.format(**words))
        conn.execute("CHECKPOINT")
    finally:
        conn.close()


def _fill_postgres(url: str, n: int, template: str) -> None:
    import psycopg

    from queuack import postgres

    words = dict(schema="queuack.", now="extract(epoch from now())::double precision", runs_end=n // 10,
                 numbers=f"generate_series(0, {n - 1})", numbers_runs=f"generate_series(0, {n // 10 - 1})")
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            rows = ROWS.format(**words).replace("%", "%%").replace("%%(template)s", "%(template)s")  # i % 8
            conn.execute(rows, {"template": template})
            conn.execute(RUNS.format(**words))
            conn.execute(EDGES.format(**words))
            # later enqueues take seq numbers after the copied rows
            conn.execute("SELECT setval(pg_get_serial_sequence('queuack.jobs', 'seq'), max(seq)) FROM queuack.jobs")
            postgres.count_finished(conn)  # the rows went in behind queuack's back
        conn.execute("VACUUM ANALYZE queuack.jobs, queuack.dag_runs, queuack.job_dependencies")


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
    n = QUICK if cfg.quick else (cfg.n or FULL)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        measure(os.path.join(tmp, "dashboard.duckdb"), n, cfg, results, "")
    sys.path.insert(0, str(common.ROOT / "tests"))
    from pgserver import PgServer, ServerUnavailable

    try:
        server = PgServer().start()
    except ServerUnavailable as exc:
        log(f"ui: no PostgreSQL server, its page times are left out: {exc}")
        return
    try:
        measure(server.create_database("dashboard"), n, cfg, results, " (PostgreSQL)")
    finally:
        server.stop()


def measure(location: str, n: int, cfg, results, suffix: str) -> None:
    """Fill the queue at `location`, serve its dashboard and time every page; figures end in suffix."""
    from queuack import DuckQueue
    from queuack.ui import serve

    log(f"ui: filling {location} with {n:,} finished jobs")
    ids = fill(location, n)
    queue = DuckQueue(location)
    server = serve(queue, port=0, announce=lambda line: None, in_thread=True)
    try:
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        for name, page in pages(ids).items():
            url, figure = f"http://{host}:{port}{page}", f"page load: {name}{suffix}"
            for r in range(cfg.runs):
                fetch_ms(url)  # warm-up: the database's cache, templates
                value = statistics.median(fetch_ms(url) for _ in range(ROUNDS))
                results.add("ui", figure, OURS, r, value, n=n, unit="ms", higher_is_better=False)
            log(f"  {figure}: {results.row('ui', figure, OURS).median:.1f} ms")
        for name, page in (("overview", "/"), ("/metrics", "/metrics")):
            url, figure = f"http://{host}:{port}{page}", f"page load: {name} (count read afresh){suffix}"
            for r in range(cfg.runs):
                value = statistics.median(afresh_ms(url) for _ in range(ROUNDS))
                results.add("ui", figure, OURS, r, value, n=n, unit="ms", higher_is_better=False)
            log(f"  {figure}: {results.row('ui', figure, OURS).median:.1f} ms")
    finally:
        server.should_exit = True
        queue.close()
