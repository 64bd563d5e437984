"""Worker figures for this project's ``queuack`` (issue 11; run with the project venv).

Prints {"drain": {"threads_1": fig, "threads_4": fig, "processes_2": fig},
        "cpu": {"threads_2": fig, "processes_2": fig}, "io": {"threads_1": fig, "threads_4": fig},
        "ack_loop": fig}:
- drain: N no-op jobs on a file queue, Worker(q, concurrency=c, pool=...).run(burst=True);
- cpu: M jobs of about 50 ms of pure-Python work each;
- io: K jobs that each wait 20 ms (time.sleep, which releases the GIL as a network call would);
- ack_loop: a user's own loop, claim_batch(50) then ack() per job.
"""

from __future__ import annotations

import os
import sys
import time

import _wl


_PLURAL = {"thread": "threads", "process": "processes"}


def noop(i=0):
    return None


def spin(ms):
    """About `ms` milliseconds of pure-Python work (holds the GIL)."""
    total = 0
    for i in range(ms * 15_000):
        total += i * i
    return total


def wait(ms):
    """Wait `ms` milliseconds without holding the GIL, as a task waiting on the network does."""
    time.sleep(ms / 1000)


def drain(base, n, job, args, concurrency, pool):
    from queuack import DuckQueue, Worker

    with _wl.scratch_dir(base) as d:
        q = DuckQueue(os.path.join(d, "jobs.duckdb"))
        try:
            for k in range(0, n, 1000):
                q.enqueue_batch([(job, args, {})] * min(1000, n - k))
            secs = _wl.timed(lambda: Worker(q, concurrency=concurrency, pool=pool).run(burst=True))
            assert q.stats()["done"] == n, q.stats()
        finally:
            q.close()
    return _wl.figure(n, secs, concurrency=concurrency, pool=pool)


def ack_loop(base, n):
    from queuack import DuckQueue

    with _wl.scratch_dir(base) as d:
        q = DuckQueue(os.path.join(d, "jobs.duckdb"))
        try:
            q.enqueue_batch([(noop, (i,), {}) for i in range(n)])

            def loop():
                while jobs := q.claim_batch(50):
                    for job in jobs:
                        q.ack(job.id, result=job.execute())

            secs = _wl.timed(loop)
            assert q.stats()["done"] == n, q.stats()
        finally:
            q.close()
    return _wl.figure(n, secs)


def main():
    p = _wl.parser(__doc__)
    p.add_argument("--n-drain", type=int, default=10000)
    p.add_argument("--n-cpu", type=int, default=200)
    p.add_argument("--n-io", type=int, default=200)
    p.add_argument("--n-ack", type=int, default=2000)
    a = p.parse_args()
    out = {
        "drain": {f"{_PLURAL[pool]}_{c}": drain(a.tmp, a.n_drain, noop, (0,), c, pool)
                  for c, pool in ((1, "thread"), (4, "thread"), (2, "process"))},
        "cpu": {f"{_PLURAL[pool]}_2": drain(a.tmp, a.n_cpu, spin, (50,), 2, pool) for pool in ("thread", "process")},
        "io": {f"threads_{c}": drain(a.tmp, a.n_io, wait, (20,), c, "thread") for c in (1, 4)},
        "ack_loop": ack_loop(a.tmp, a.n_ack),
    }
    _wl.emit(out)


if __name__ == "__main__":
    sys.exit(main())
