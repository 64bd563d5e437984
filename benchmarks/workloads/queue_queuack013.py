"""Queue figures for queuack 0.1.3 from PyPI (run with .bench/venv-queuack013).

Its Worker has no burst mode, so the last of the N drain jobs sets the worker's
``should_stop``; the worker then makes its own short shutdown drain (three empty
polls, 10 ms apart), which is inside the timing.
Prints {"enqueue_one": fig, "enqueue_batch": fig, "drain": fig}.
"""

from __future__ import annotations

import os
import sys

import _wl


def noop(i=0):
    return None


_COUNT = {"left": 0, "worker": None}


def counted(i=0):
    """The drain job: the last one tells the worker to stop (no polling thread)."""
    _COUNT["left"] -= 1
    if _COUNT["left"] <= 0 and _COUNT["worker"] is not None:
        _COUNT["worker"].should_stop = True
    return None


def open_queue(DuckQueue, d):
    # workers_num=None: no background worker pool, we drive the Worker ourselves.
    return DuckQueue(os.path.join(d, "jobs.duckdb"), workers_num=None)






def measure_drain(DuckQueue, Worker, base, n):
    with _wl.scratch_dir(base) as d:
        q = open_queue(DuckQueue, d)
        try:
            items = [(counted, (i,), {}) for i in range(n)]
            for k in range(0, n, 1000):
                q.enqueue_batch(items[k:k + 1000])
            w = Worker(q, concurrency=1)
            _COUNT["left"] = n
            _COUNT["worker"] = w

            def body():
                w.run(poll_interval=0.01)
            secs = _wl.timed(body)
            stats = q.stats()
            assert stats["done"] == n, stats
        finally:
            q.close()
    return _wl.figure(n, secs, concurrency=1, mode="should_stop")


def main():
    p = _wl.parser(__doc__)
    p.add_argument("--n-one", type=int, default=500)
    p.add_argument("--n-batch", type=int, default=2000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--n-drain", type=int, default=300)
    a = p.parse_args()
    from queuack import DuckQueue, Worker

    out = {
        "enqueue_one": _wl.measure_enqueue_one(lambda d: open_queue(DuckQueue, d), noop, a.tmp, a.n_one),
        "enqueue_batch": _wl.measure_enqueue_batch(lambda d: open_queue(DuckQueue, d), noop, a.tmp,
                                                   a.n_batch, a.batch),
        "drain": measure_drain(DuckQueue, Worker, a.tmp, a.n_drain),
    }
    _wl.emit(out)


if __name__ == "__main__":
    sys.exit(main())
