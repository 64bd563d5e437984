"""Queue figures for huey with SqliteHuey (run with .bench/venv-peers).

huey has no batch enqueue, so "enqueue_batch" is reported as null. The drain
is huey's consumer loop without its idle sleeps: dequeue() then execute()
until the queue is empty (what a huey worker thread does per task).
Prints {"enqueue_one": fig, "enqueue_batch": null, "drain": fig}.
"""

from __future__ import annotations

import os
import sys

import _wl


def make(d):
    from huey import SqliteHuey

    huey = SqliteHuey("bench", filename=os.path.join(d, "huey.db"))

    @huey.task()
    def noop(i=0):
        return None

    return huey, noop


def measure_enqueue_one(base, n):
    with _wl.scratch_dir(base) as d:
        huey, noop = make(d)

        def body():
            for i in range(n):
                noop(i)
        secs = _wl.timed(body)
        assert huey.pending_count() == n, huey.pending_count()
        huey.storage.close()
    return _wl.figure(n, secs)


def measure_drain(base, n):
    with _wl.scratch_dir(base) as d:
        huey, noop = make(d)
        for i in range(n):
            noop(i)
        done = [0]

        def body():
            while True:
                task = huey.dequeue()
                if task is None:
                    break
                huey.execute(task)
                done[0] += 1
        secs = _wl.timed(body)
        assert done[0] == n and huey.pending_count() == 0
        huey.storage.close()
    return _wl.figure(n, secs, mode="dequeue+execute")


def main():
    _wl.run_sqlite_peer(__doc__, measure_enqueue_one, measure_drain)


if __name__ == "__main__":
    sys.exit(main())
