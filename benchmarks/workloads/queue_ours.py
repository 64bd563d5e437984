"""Queue figures for this project's ``queuack`` (run with the project venv).

Prints {"enqueue_one": fig, "insert_floor": fig, "enqueue_batch": fig, "drain": fig};
insert_floor is bare DuckDB, the floor under enqueue_one (one commit per job).
"""

from __future__ import annotations

import os
import sys
import threading
import time

import _wl
import floors


def noop(i=0):
    return None






def run_burst(Worker, q, concurrency):
    """Drain with Worker.run(burst=True); fall back to stop() when idle."""
    w = Worker(q, concurrency=concurrency)
    try:
        w.run(burst=True)
        return "burst"
    except TypeError:
        pass
    # Older Worker without burst: watch the stats from a helper thread.
    def watch():
        while True:
            s = q.stats()
            if s.get("pending", 0) == 0 and s.get("claimed", 0) == 0:
                w.stop()
                return
            time.sleep(0.005)
    t = threading.Thread(target=watch, daemon=True)
    t.start()
    w.run()
    return "stop"


def measure_drain(DuckQueue, Worker, base, n, concurrency):
    with _wl.scratch_dir(base) as d:
        q = DuckQueue(os.path.join(d, "jobs.duckdb"))
        try:
            items = [(noop, (i,), {}) for i in range(n)]
            for k in range(0, n, 1000):
                q.enqueue_batch(items[k:k + 1000])
            mode = []
            secs = _wl.timed(lambda: mode.append(run_burst(Worker, q, concurrency)))
            stats = q.stats()
            assert stats["done"] == n, stats
        finally:
            q.close()
    return _wl.figure(n, secs, concurrency=concurrency, mode=mode[0])


def main():
    p = _wl.parser(__doc__)
    p.add_argument("--n-one", type=int, default=2000)
    p.add_argument("--n-batch", type=int, default=10000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--n-drain", type=int, default=10000)
    p.add_argument("--concurrency", type=int, default=1)
    a = p.parse_args()
    from queuack import DuckQueue, Worker

    def open_queue(d):
        return DuckQueue(os.path.join(d, "jobs.duckdb"))

    out = {
        "enqueue_one": _wl.measure_enqueue_one(open_queue, noop, a.tmp, a.n_one),
        "insert_floor": floors.insert_floor(a.tmp, a.n_one),
        "enqueue_batch": _wl.measure_enqueue_batch(open_queue, noop, a.tmp, a.n_batch, a.batch),
        "drain": measure_drain(DuckQueue, Worker, a.tmp, a.n_drain, a.concurrency),
    }
    _wl.emit(out)


if __name__ == "__main__":
    sys.exit(main())
