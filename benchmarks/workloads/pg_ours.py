"""PostgreSQL figures for this project's ``queuack`` (run with the project venv).

Prints {"enqueue_batch": fig, "drain_1": fig, "drain_4": fig, "fanout": fig} for the server at --url
(each figure on a fresh database that the runner made). Worker processes are forked before the
clock starts and released together, so interpreter start-up and imports are not timed.

- enqueue_batch: --n-batch jobs through enqueue_batch, --batch a call.
- drain_P:       --n-drain jobs enqueued beforehand (untimed), then P processes, each one
                 Worker(q).run(burst=True), until all have returned.
- fanout:        root -> --n-dag leaves, each reading context.upstream("root"), submitted
                 untimed, then run by two worker processes until wait_for_completion returns.
"""

from __future__ import annotations

import threading

import _wl


def noop(i=0):
    return None


def root():
    return {"payload": list(range(10))}


def leaf(i, context):
    return context.upstream("root")["payload"][i % 10]


def _worker(url, burst, ready, go, stop):
    from queuack import DuckQueue, Worker

    with DuckQueue(url) as q:
        w = Worker(q)
        ready.wait()
        go.wait()
        if not burst:
            threading.Thread(target=lambda: (stop.wait(), w.stop()), daemon=True).start()
        w.run(burst=burst)


def main():
    a = _wl.pg_parser(__doc__).parse_args()
    from queuack import DAG, DuckQueue

    urls = iter(a.url)
    out = {}
    with DuckQueue(next(urls)) as q:
        items = [(noop, (i,), None) for i in range(a.n_batch)]
        secs = _wl.timed(lambda: [q.enqueue_batch(items[k:k + a.batch]) for k in range(0, a.n_batch, a.batch)])
        assert q.stats()["pending"] == a.n_batch
    out["enqueue_batch"] = _wl.figure(a.n_batch, secs, batch=a.batch)
    for processes in (1, 4):
        url = next(urls)
        with DuckQueue(url) as q:
            for k in range(0, a.n_drain, 1000):
                q.enqueue_batch([(noop, (i,), None) for i in range(k, min(k + 1000, a.n_drain))])
        secs = _wl.forked_workers(_worker, (url, True), processes)
        with DuckQueue(url) as q:
            assert q.stats()["done"] == a.n_drain, q.stats()
        out[f"drain_{processes}"] = _wl.figure(a.n_drain, secs, processes=processes)
    url = next(urls)
    with DuckQueue(url) as q:
        with DAG("fanout", queue=q) as dag:
            dag.add_job(root, name="root")
            for i in range(a.n_dag):
                dag.add_job(leaf, name=f"leaf{i}", args=(i,), depends_on="root")
        secs = _wl.forked_workers(_worker, (url, False), 2,
                                  until=lambda: dag.wait_for_completion(timeout=600, poll_interval=0.05))
        assert dag.status == "done", dag.progress
    out["fanout"] = _wl.figure(a.n_dag + 1, secs, processes=2)
    _wl.emit(out)


if __name__ == "__main__":
    main()
