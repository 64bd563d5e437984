"""Queue figures for persist-queue's SQLiteAckQueue (run with .bench/venv-peers).

SQLiteAckQueue commits every put (it forces auto_commit) and has no batch
put, so "enqueue_batch" is reported as null. The drain is its consume-and-ack
loop: get(block=False), call the job, ack(item).
Prints {"enqueue_one": fig, "enqueue_batch": null, "drain": fig}.
"""

from __future__ import annotations

import os
import sys

import _wl


def noop(i=0):
    return None


def open_queue(d):
    from persistqueue import SQLiteAckQueue

    return SQLiteAckQueue(os.path.join(d, "pq"), multithreading=False)


def measure_enqueue_one(base, n):
    with _wl.scratch_dir(base) as d:
        q = open_queue(d)

        def body():
            for i in range(n):
                q.put((noop, (i,), {}))
        secs = _wl.timed(body)
        assert q.size == n, q.size
    return _wl.figure(n, secs)


def measure_drain(base, n):
    from persistqueue import Empty

    with _wl.scratch_dir(base) as d:
        q = open_queue(d)
        for i in range(n):
            q.put((noop, (i,), {}))
        done = [0]

        def body():
            while True:
                try:
                    item = q.get(block=False)
                except Empty:
                    break
                func, args, kwargs = item
                func(*args, **kwargs)
                q.ack(item)
                done[0] += 1
        secs = _wl.timed(body)
        assert done[0] == n and q.size == 0, (done[0], q.size)
    return _wl.figure(n, secs, mode="get+ack")


def main():
    _wl.run_sqlite_peer(__doc__, measure_enqueue_one, measure_drain)


if __name__ == "__main__":
    sys.exit(main())
