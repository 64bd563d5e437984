"""PostgreSQL figures for procrastinate (run with .bench/venv-procrastinate).

Prints {"enqueue_batch": fig, "drain_1": fig, "drain_4": fig}, measured as pg_ours.py measures
this project: --batch jobs per batch_defer call; the drain forks its worker processes
(app.run_worker(wait=False), which returns once no job is left; procrastinate's defaults
otherwise) before the clock starts and releases them together.
"""

from __future__ import annotations

import time

import _wl


def make_app(url):
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="noop")
    def noop():
        return None

    return app, noop


def _worker(url, ready, go, stop):
    app, _ = make_app(url)
    with app.open():
        ready.wait()
        go.wait()
        app.run_worker(wait=False, install_signal_handlers=False)


def enqueue(url, n, batch, install=True):
    app, noop = make_app(url)
    with app.open():
        if install:
            app.schema_manager.apply_schema()
        start = time.perf_counter()
        for k in range(0, n, batch):
            noop.batch_defer(*([{}] * min(batch, n - k)))
        return time.perf_counter() - start


def left(url):
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE status <> 'succeeded'").fetchone()[0]


def main():
    a = _wl.pg_parser(__doc__).parse_args()  # --n-dag is not used: procrastinate has no DAGs
    urls = iter(a.url)
    out = {"enqueue_batch": _wl.figure(a.n_batch, enqueue(next(urls), a.n_batch, a.batch), batch=a.batch)}
    for processes in (1, 4):
        url = next(urls)
        enqueue(url, a.n_drain, 1000)
        secs = _wl.forked_workers(_worker, (url,), processes)
        assert left(url) == 0
        out[f"drain_{processes}"] = _wl.figure(a.n_drain, secs, processes=processes)
    _wl.emit(out)


if __name__ == "__main__":
    main()
