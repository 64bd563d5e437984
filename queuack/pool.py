"""WorkerPool: several Workers on background threads of this process, started and stopped together.

This is what `with DuckQueue(path, workers_num=N, worker_concurrency=M) as q:` and
`q.start_workers()` run. Each Worker claims in batches and runs `concurrency` jobs at once; a
pool of N of them runs up to N * M jobs at once. The threads are daemons: a script that ends
without stopping the pool does not hang, but then jobs still running are cut off (their leases
expire and they run again); stop() waits for them.
"""

from __future__ import annotations

import logging
import threading
import time

from .worker import Worker

log = logging.getLogger("queuack.worker")


class WorkerPool:
    def __init__(self, queue, num_workers: int = 4, concurrency: int = 1, *,
                 poll_interval: float | None = None, queues=None):
        if not isinstance(num_workers, int) or num_workers < 0:  # 0: a pool that runs nothing, as in 0.1
            raise ValueError(f"num_workers must be an int >= 0, not {num_workers!r}")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an int >= 1, not {concurrency!r}")
        self.queue = queue
        self.num_workers = num_workers
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.queues = queues
        self.workers: list[Worker] = []
        self.threads: list[threading.Thread] = []

    def __repr__(self) -> str:
        return (f"WorkerPool({self.num_workers} workers x {self.concurrency}, "
                f"{'running' if self.running else 'stopped'})")

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def start(self) -> "WorkerPool":
        """Start the workers; calling start() on a running pool does nothing."""
        if self.running:
            return self
        self.workers = [Worker(self.queue, queues=self.queues, concurrency=self.concurrency,
                               worker_id=f"worker-{i}") for i in range(self.num_workers)]
        self.threads = [threading.Thread(target=w.run, kwargs={"poll_interval": self.poll_interval},
                                         name=f"queuack-pool-{w.worker_id}", daemon=True)
                        for w in self.workers]
        for thread in self.threads:
            thread.start()
        log.info("WorkerPool started %d workers (concurrency %d each)", self.num_workers, self.concurrency)
        return self

    def stop(self, timeout: float = 30) -> bool:
        """Let running jobs finish and stop the workers; wait up to `timeout` seconds in all.
        Returns True when every worker has stopped."""
        deadline = time.monotonic() + timeout
        for worker, thread in zip(self.workers, self.threads):
            # asked again until it ends: a worker whose run() had not started yet would miss one stop()
            while thread.is_alive() and time.monotonic() < deadline:
                worker.stop()
                thread.join(min(0.05, max(0.0, deadline - time.monotonic())))
        stopped = not self.running
        if not stopped:
            log.warning("WorkerPool: some workers still run a job after %ss; they stop when it ends", timeout)
        return stopped

    @property
    def processed(self) -> int:
        """Jobs the pool's workers have finished (done or failed) so far."""
        return sum(w.processed for w in self.workers)

    def __enter__(self) -> "WorkerPool":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
