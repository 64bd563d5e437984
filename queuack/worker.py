"""Worker: claims jobs in batches, runs them on threads, acknowledges them in groups.

`claim()` and `ack()` on DuckQueue keep their one-job meaning for users. The Worker goes around
them: one statement claims a batch (prefetch) and one transaction records the outcomes of many
jobs (group commit), because on DuckDB the cost is per statement, not per row. An outcome is
durable once its group is committed; a crash before that re-runs the job (at-least-once).

With several threads, the worker's own thread claims, commits and renews leases, and the pool
threads only run jobs. That thread spends most of its time inside DuckDB statements, holding the
store's lock, so a pool thread must not need that lock to start a job (the claim brings each
job's parents) and must have work queued while a group commits: up to two batches are held, and
the next is claimed once half is done.

When a write fails because the disk is full (StorageWriteError), or because a database server
stayed out of reach longer than its backend retries (BackendUnavailableError), nothing of it was
stored: the Worker keeps the claims and outcomes it holds, waits with exponential backoff and writes
them again, until space (or the server) returns. A stop while the disk is still full gives up after one more try; the
jobs whose outcomes were not stored then run again, as after a crash.

Stopping: a first SIGINT/SIGTERM (or stop()) lets the running jobs finish and gives back the
prefetched ones. A second one (or stop(now=True)) stops now: the running jobs are abandoned and go
back to the queue with their attempt not counted, since the worker, not the job, ended them. A job
on the signalled thread (concurrency=1 under `queuack worker`) is interrupted by StopNow; with
pool="process" the children running jobs are killed and run() waits for their threads, so that
none still uses the store once it returns; jobs on pool threads cannot be interrupted, so run()
returns without them and whatever they return later is dropped (their claims were given back).
"""

from __future__ import annotations

import logging
import queue as _queue
import signal
import threading
import time
from typing import Any, Callable, Collection, Iterable, Sequence

from .errors import describe_exception, BackendUnavailableError, QueuackError, StorageWriteError, UntrustedError, WorkerSetupError
from .execution import StopNow, execute
from .processes import Child, in_pool_child
from .jobs import Job
from .queue import DuckQueue, default_worker_id
from .backend import Outcome
from .serialization import Loader

# Failures after which nothing was written, and writing again later can succeed.
_NOT_WRITTEN = (StorageWriteError, BackendUnavailableError)

log = logging.getLogger("queuack.worker")

_FLUSH_INTERVAL = 0.05  # seconds an outcome may wait for its group commit
_TARGET_BATCH_SECONDS = 0.2  # prefetch about this much work at a time
_IDLE_WAIT = 1.0  # longest sleep when idle; an enqueue in this process wakes it earlier
_FIRST_BATCH = 8
_CHUNK_SECONDS = 0.005  # work handed to a thread at once (several threads)
_STORAGE_RETRY_FIRST = 0.2  # seconds before writing again after a failed write (disk full), doubling...
_STORAGE_RETRY_MAX = 30.0  # ...up to this
_NOT_STORED = object()


class _Waiting:
    """The jobs of the inline batch that have not started: the worker's thread takes them one at a
    time to run them, the heartbeat takes all that are left to give them back once the worker is
    stopping. Each job is taken once, so none is run after it was given back or given back twice."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs: list[Job] = []
        self._given_back: set[str] = set()

    def refill(self, jobs: list[Job]) -> None:
        with self._lock:
            self._jobs = list(reversed(jobs))
            self._given_back = set()

    def take(self) -> Job | None:
        with self._lock:
            return self._jobs.pop() if self._jobs else None

    def take_all(self) -> list[Job]:
        with self._lock:
            jobs, self._jobs = self._jobs[::-1], []
            self._given_back.update(j.id for j in jobs)
            return jobs

    def given_back(self, job: Job) -> bool:
        with self._lock:
            return job.id in self._given_back


class Worker:
    """Run jobs from `queue`.

    queues: names in priority order (a name, or (name, priority) pairs as queuack 0.1 accepted);
    None takes every queue, highest job priority first.
    concurrency: jobs running at once.
    pool: "thread" (the default) runs them on threads of this process; "process" in as many spawned
    child processes (processes.py): every core for CPU-bound tasks, and a timeout that really stops
    the job. This process still claims, records and renews leases.
    allow: the functions this worker may run (module names, "module:qualname" strings, functions,
    or "*" for any); None: what the queue allows (see DuckQueue's `allow`). A job naming another
    function fails without running, and its module is not imported.
    """

    def __init__(
        self,
        queue: DuckQueue,
        queues: Sequence[str | tuple[str, int]] | None = None,
        concurrency: int = 1,
        *,
        worker_id: str | None = None,
        batch_size: int = 256,
        max_jobs_in_flight: int | None = None,
        only: Collection[str] | None = None,
        allow: str | Callable | Iterable | None = None,
        pool: str = "thread",
    ):
        if isinstance(concurrency, str):
            raise TypeError(f"Worker()'s third positional argument is concurrency (an int), not {concurrency!r}: "
                            "queuack 0.1 took worker_id there; pass it by keyword, Worker(q, worker_id=...)")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an int >= 1, not {concurrency!r}")
        if pool not in ("thread", "process"):
            raise ValueError(f"pool must be 'thread' or 'process', not {pool!r}")
        if pool == "process" and in_pool_child():
            raise QueuackError(
                'Worker(pool="process") in a process-pool child: spawning the child imported the script that '
                'starts the Worker again. Keep that code under `if __name__ == "__main__":`.')
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.queue = queue
        self.queues = self._queue_order(queues)
        self.concurrency = concurrency
        self.pool = pool
        self.worker_id = worker_id or default_worker_id()
        self.batch_size = batch_size
        self._fixed_capacity = max_jobs_in_flight  # None: sized by the durations of jobs (_in_flight_limit)
        self.capacity = max_jobs_in_flight or max(concurrency * 2, 1)
        self.max_jobs_in_flight = self.capacity  # queuack 0.1's name
        self.only = set(only) if only is not None else None  # restrict to these job ids (DAG.execute)
        self.loader = queue.loader if allow is None else Loader(queue.serializer, allow)
        self.processed = 0
        self._stop = threading.Event()
        self._stop_now = threading.Event()
        self._job_on_main_thread = False  # a second signal interrupts it (StopNow)
        self._setup_error: Exception | None = None  # the worker's own failure, raised by run(): see _run_one
        self._stop_before_run = False  # should_stop = True before run(): that run returns at once
        self._stopped = threading.Event()  # set by stop(): wakes the inline heartbeat to give back the batch
        self._store = queue._live_store()
        self._avg_job_seconds = 0.0
        self.running = 0  # jobs being run now (the progress line), not those only prefetched
        self._running_lock = threading.Lock()

    def __repr__(self) -> str:
        state = "stopping" if self.stopping else f"processed={self.processed}"
        return (f"Worker({self.queue!r}, queues={self.queues!r}, concurrency={self.concurrency}, "
                f"worker_id={self.worker_id!r}, {state})")

    @staticmethod
    def _queue_order(queues) -> list[str] | None:
        if queues is None:
            return None
        if isinstance(queues, str):
            return [queues]
        pairs = [(q, 0) if isinstance(q, str) else (q[0], q[1]) for q in queues]
        # stable: explicit priorities first (higher first), then the given order
        return [name for name, _ in sorted(pairs, key=lambda p: -p[1])]

    # -- control ----------------------------------------------------------------------------------
    def stop(self, now: bool = False) -> None:
        """Finish the jobs that are running, give back the prefetched ones, and return from run().

        now=True: return at once; the running jobs go back to the queue without counting the
        attempt. A job running on the thread that called run() (concurrency=1) is interrupted only
        by a signal (a second SIGINT/SIGTERM); from another thread, run() returns after it."""
        if now:
            self._stop_now.set()
        self._stop.set()
        self._stopped.set()
        with self._store.changed:
            self._store.changed.notify_all()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def should_stop(self) -> bool:
        """queuack 0.1's stop flag: `worker.should_stop = True` is stop()."""
        return self._stop.is_set() or self._stop_before_run

    @should_stop.setter
    def should_stop(self, value: bool) -> None:
        if value:
            self._stop_before_run = True
            self.stop()
        else:
            self._stop_before_run = False
            self._stop.clear()
            self._stop_now.clear()

    def run(self, burst: bool = False, poll_interval: float | None = None) -> int:
        """Process jobs until stop() (or SIGTERM/SIGINT on the main thread). With burst=True, return
        as soon as nothing is ready. Returns the number of jobs this run processed (the
        `processed` attribute keeps counting across runs).

        run(0.5), queuack 0.1's positional poll_interval, is read as poll_interval=0.5."""
        if not isinstance(burst, bool):
            if not isinstance(burst, (int, float)):
                raise TypeError(f"burst must be True or False, not {burst!r}")
            burst, poll_interval = False, burst
        if poll_interval is not None and poll_interval < 0:
            raise ValueError(f"poll_interval must be >= 0 seconds, not {poll_interval!r}")
        if self._stop_before_run:
            self._stop_before_run = False
            return 0
        self._stop.clear()
        self._stop_now.clear()
        self._setup_error = None
        before = self.processed
        restore = self._install_signal_handlers()
        try:
            if self.concurrency == 1 and self.pool == "thread":
                self._run_inline(burst, poll_interval)
            else:
                self._run_threaded(burst, poll_interval)
        finally:
            self._stop_before_run = False
            restore()
        if self._setup_error is not None:
            raise self._setup_error
        return self.processed - before

    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {}

        def handler(signum, frame):
            name = signal.Signals(signum).name
            if not self.stopping:
                log.warning("worker %s: %s received: finishing the running jobs, then stopping "
                            "(send it again to stop now)", self.worker_id, name)
                self.stop()
            elif not self._stop_now.is_set():
                log.warning("worker %s: %s received again: stopping now; the running jobs go back to the "
                            "queue, their attempt not counted", self.worker_id, name)
                self.stop(now=True)
                if self._job_on_main_thread:
                    raise StopNow()

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, handler)

        def restore():
            for sig, old in previous.items():
                signal.signal(sig, old)

        return restore

    # -- claiming and acknowledging ---------------------------------------------------------------
    def _until_stored(self, write: Callable[[], Any], what: str, between: Callable[[], None] | None = None) -> Any:
        """Call `write` (a change to the database) and return its result. While it fails because
        the disk is full, wait with exponential backoff (calling `between`, say to renew leases) and
        try again. Once the worker is stopping, a failure gives up: returns _NOT_STORED."""
        delay = _STORAGE_RETRY_FIRST
        while True:
            try:
                result = write()
            except _NOT_WRITTEN as exc:
                if self.stopping:
                    log.error("worker %s stopping: could not %s, given up (those jobs run again): %s",
                              self.worker_id, what, exc)
                    return _NOT_STORED
                log.warning("worker %s: could not %s, trying again in %.1fs: %s", self.worker_id, what, delay, exc)
                self._stop.wait(delay)  # stop() cuts the wait short
                delay = min(delay * 2, _STORAGE_RETRY_MAX)
                if between is not None:
                    between()
                continue
            if delay > _STORAGE_RETRY_FIRST:
                log.warning("worker %s: the database is writable again", self.worker_id)
            return result

    def _claim(self, count: int) -> list[Job]:
        # Claims live in memory until the group commit that records their outcomes: a crash
        # charges only the jobs that had started (see _run_one), not the prefetched ones.
        jobs = self._until_stored(lambda: self._store.claim(
            self.queues, count, self.worker_id, self.queue.visibility_timeout, self.only, durable=False),
            "claim jobs")
        return [] if jobs is _NOT_STORED else jobs

    def _prefetch_size(self, room: int) -> int:
        if self._avg_job_seconds <= 0:  # durations unknown yet: start small, so that slow jobs are not hoarded
            return min(room, self.batch_size, _FIRST_BATCH)
        return max(1, min(room, self.batch_size, int(_TARGET_BATCH_SECONDS / self._avg_job_seconds)))

    def _in_flight_limit(self) -> int:
        """Jobs the threaded path holds at once: about _TARGET_BATCH_SECONDS of work for all its
        threads, never fewer than two per thread; max_jobs_in_flight when given. Short jobs: two
        batches (2 x batch_size), so that the threads run one batch while this thread commits the
        outcomes of the last and claims the next (claiming again once half is done)."""
        if self._fixed_capacity:
            return self._fixed_capacity
        if self._avg_job_seconds <= 0:
            return self.capacity
        by_time = int(_TARGET_BATCH_SECONDS * self.concurrency / self._avg_job_seconds)
        return max(self.capacity, min(2 * self.batch_size, by_time))

    def _flush(self, outcomes: list[Outcome], between: Callable[[], None] | None = None) -> None:
        """Group commit: the outcomes, in one transaction."""
        if outcomes:
            stored = self._until_stored(
                lambda: self._store.complete(outcomes, self.queue.retry_policy),
                f"record {len(outcomes)} outcome(s)", between)
            if stored is not _NOT_STORED:
                self.processed += sum(1 for o in outcomes if o.kind != "release")
            outcomes.clear()

    def _release(self, jobs: list[Job]) -> None:
        if jobs:
            self._until_stored(lambda: self._store.complete([Outcome.of(j, "release") for j in jobs]),
                               f"give back {len(jobs)} prefetched job(s)")

    def _renew(self, jobs: list[Job]) -> None:
        try:
            self._store.renew(jobs, self.queue.visibility_timeout)
        except _NOT_WRITTEN as exc:  # the lease held in memory was renewed, and that is the one that counts
            log.debug("lease renewal not written: %s", exc)

    def _idle(self, burst: bool, poll_interval: float | None) -> bool:
        """Nothing was claimed. Returns True when run() should return."""
        if self.stopping:
            return True
        if burst:
            return True
        try:
            wake = self._store.next_wakeup()
        except BackendUnavailableError:  # the next claim retries with backoff
            wake = None
        timeout = poll_interval or _IDLE_WAIT
        if wake is not None:
            timeout = max(0.0, min(timeout, wake - time.time()))
        self._store.wait_for_work(timeout)
        return self.stopping

    def _run_one(self, job: Job, on_main_thread: bool = False, child: Child | None = None) -> Outcome:
        self._store.job_started(job)  # from here on, a crash charges this attempt
        started = time.perf_counter()
        with self._running_lock:
            self.running += 1
        try:
            self._job_on_main_thread = on_main_thread
            try:
                if child is None:
                    outcome = execute(job, job._parents, self.loader)
                else:
                    outcome = self._run_in_child(job, child)
            finally:
                self._job_on_main_thread = False
        except Exception as exc:
            # Not the job's failure (execute() makes an outcome of whatever the task raises) but
            # the worker's: a function it cannot import, a child it cannot start, a read that
            # failed. Every job would fail the same way here: give this one back uncharged and stop
            # taking jobs (run() raises the error once the others are done). On a thread of the
            # pool, letting it escape would end that thread and leave its jobs held for good.
            if isinstance(exc, WorkerSetupError):
                log.error("worker %s: %s Stopping this worker.", self.worker_id, exc)
            else:
                log.error("worker %s: could not run job %s: %s. Its attempt is not counted. Stopping this "
                          "worker.", self.worker_id, job.id, describe_exception(exc), exc_info=True)
            if self._setup_error is None:
                self._setup_error = exc
            self.stop()
            return Outcome.of(job, "release")
        finally:
            with self._running_lock:
                self.running -= 1
            self._store.job_finished(job)
        if outcome.kind == "done":  # a large result waits for the group commit as a reference only
            outcome.result = self._store.stash_result(job.id, job.attempts, outcome.result)
        elapsed = time.perf_counter() - started
        self._avg_job_seconds = elapsed if self._avg_job_seconds == 0 else 0.8 * self._avg_job_seconds + 0.2 * elapsed
        if outcome.kind != "done":
            log.warning("job %s (%s) attempt %s: %s", job.id, job.node_name or job.function, job.attempts, outcome.error)
        return outcome

    def _run_in_child(self, job: Job, child: Child) -> Outcome:
        try:
            self.loader.check_function(job.func, job.codec, f"job {job.id}")  # children cannot know what this process enqueued
        except UntrustedError as exc:
            return Outcome.of(job, "fail", error=f"UntrustedError: {exc}")
        parents = job._parents
        if parents is None:
            parents = self._store.parents([job.id]).get(job.id, [])
        results = self._store.results([p for p, _ in parents]) if parents else {}
        outcome = child.run(job, parents, results, self._stop_now)
        if outcome is None:  # stopped now: its child was killed, and run() gives the job back
            raise StopNow()
        return outcome

    def _renew_due(self, last: float) -> bool:
        return time.monotonic() - last > self.queue.visibility_timeout / 3

    # -- one thread ----------------------------------------------------------------------------
    def _heartbeat(self, held: list[Job], waiting: _Waiting, finished: threading.Event) -> None:
        """Renew the leases of the inline batch, the running job included, while it runs on the
        worker's own thread (which cannot renew them itself until the job returns); once stop()
        is called, give back the jobs of the batch that have not started, while that job runs on."""
        interval = self.queue.visibility_timeout / 3
        renewed = time.monotonic()
        while not finished.is_set():
            self._stopped.wait(max(0.0, renewed + interval - time.monotonic()))
            if finished.is_set():
                return
            try:
                if self.stopping:
                    self._stopped.clear()
                    self._release(waiting.take_all())
                if time.monotonic() - renewed >= interval:
                    renewed = time.monotonic()
                    claims = [j for j in list(held) if not waiting.given_back(j)]
                    if claims:
                        self._renew(claims)
            except Exception:  # the store closed under us: run() is ending anyway
                log.debug("lease renewal failed", exc_info=True)

    def _run_inline(self, burst: bool, poll_interval: float | None) -> None:
        outcomes: list[Outcome] = []
        held: list[Job] = []  # the current batch, until its outcomes are committed
        waiting = _Waiting()  # the jobs of the batch not started yet: this thread or the heartbeat takes each
        finished = threading.Event()
        self._stopped.clear()
        heartbeat = threading.Thread(target=self._heartbeat, args=(held, waiting, finished),
                                     name="queuack-heartbeat", daemon=True)
        heartbeat.start()
        try:
            while not self.stopping:
                jobs = self._claim(self._prefetch_size(self.batch_size))
                if not jobs:
                    if self._idle(burst, poll_interval):
                        break
                    continue
                held[:] = jobs
                waiting.refill(jobs)
                flushed = time.monotonic()
                while not self.stopping and (job := waiting.take()) is not None:
                    try:
                        outcomes.append(self._run_one(job, threading.current_thread() is threading.main_thread()))
                    except StopNow:
                        self._flush(outcomes)
                        self._release([job])
                        self._log_stopped_now(1)
                        break
                    if time.monotonic() - flushed > _FLUSH_INTERVAL:
                        self._flush(outcomes)
                        flushed = time.monotonic()
                self._flush(outcomes)
                self._release(waiting.take_all())
                held.clear()
        finally:
            finished.set()
            self._stopped.set()  # wakes the heartbeat to end
            heartbeat.join()

    # -- several threads -------------------------------------------------------------------------
    def _run_threaded(self, burst: bool, poll_interval: float | None) -> None:
        # Jobs go to the threads, and outcomes come back, in chunks of about _CHUNK_SECONDS of
        # work: a hand-over between threads costs about as much as a short job.
        todo: _queue.Queue[list[Job] | None] = _queue.Queue()
        results: _queue.Queue[list[Outcome]] = _queue.Queue()
        held: dict[str, Job] = {}  # claimed and not yet acknowledged

        def executor() -> None:
            child = Child(self.queue.serializer, self.queue.db_path) if self.pool == "process" else None
            try:
                while True:
                    chunk = todo.get()
                    if chunk is None:
                        return
                    finished = []
                    for job in chunk:
                        if job.id not in held or self.stopping:
                            finished.append(Outcome.of(job, "release"))
                        else:
                            try:
                                finished.append(self._run_one(job, child=child))
                            except StopNow:  # the job stays held: run() gives it back
                                results.put(finished)
                                return
                    results.put(finished)
            finally:
                if child is not None:
                    child.kill() if self._stop_now.is_set() else child.stop()

        threads = [threading.Thread(target=executor, name=f"queuack-worker-{i}", daemon=True)
                   for i in range(self.concurrency)]
        for thread in threads:
            thread.start()
        outcomes: list[Outcome] = []
        renewed = flushed = time.monotonic()

        def renew_held() -> None:
            self._renew(list(held.values()))

        try:
            while True:
                self._drain(results, held, outcomes)
                if outcomes and (not held or len(outcomes) >= self.batch_size
                                 or time.monotonic() - flushed > _FLUSH_INTERVAL):
                    self._flush(outcomes, renew_held)
                    flushed = time.monotonic()
                if self._renew_due(renewed) and held:
                    renew_held()
                    renewed = time.monotonic()
                if self._stop_now.is_set():
                    if self.pool == "process":
                        # their children are killed at once: wait for the threads, so that none
                        # touches the store after run() and every outcome already sent counts
                        self._stop_threads(threads, todo)
                        self._drain(results, held, outcomes)
                    self._flush(outcomes)
                    running = list(held.values())
                    held.clear()  # executors give back, without running, what is still queued for them
                    for job in running:  # not charged if this process dies before the release is stored
                        self._store.job_finished(job)
                    self._release(running)
                    self._log_stopped_now(len(running))
                    break
                if self.stopping:
                    self._give_back_queued(todo, held)
                    if not held:
                        break
                    self._wait_result(results, held, outcomes)
                    continue
                limit = self._in_flight_limit()
                room = limit - len(held)
                # claim again once half of what is held is done: one statement for many jobs
                wanted = min(room, self.batch_size if self._avg_job_seconds > 0 else _FIRST_BATCH)
                jobs = self._claim(wanted) if room > 0 and len(held) <= limit // 2 else []
                for job in jobs:
                    held[job.id] = job
                size = self._chunk_size(len(jobs))
                for start in range(0, len(jobs), size):
                    todo.put(jobs[start:start + size])
                if jobs:
                    continue
                if held:
                    self._wait_result(results, held, outcomes)
                    continue
                if outcomes:  # acknowledging may have made children ready: claim again first
                    self._flush(outcomes)
                    continue
                if self._idle(burst, poll_interval):
                    break
        finally:
            self._flush(outcomes)
            if self._stop_now.is_set() and self.pool == "thread":
                # threads still in a job end when it returns; nothing waits for them
                for _ in threads:
                    todo.put(None)
                return
            self._stop_threads(threads, todo)
            leftovers: list[Outcome] = []
            self._drain(results, {}, leftovers)
            self._flush(leftovers)

    def _give_back_queued(self, todo: _queue.Queue, held: dict) -> None:
        """Stopping: give back the jobs queued for the threads that none has taken yet (prefetched),
        while the running ones finish."""
        queued = []
        while True:
            try:
                queued += todo.get_nowait()
            except _queue.Empty:
                break
        for job in queued:
            del held[job.id]
        self._release(queued)

    @staticmethod
    def _stop_threads(threads: list[threading.Thread], todo: _queue.Queue) -> None:
        for _ in threads:
            todo.put(None)
        for thread in threads:
            thread.join()

    def _chunk_size(self, claimed: int) -> int:
        """Jobs handed to a thread at once: about _CHUNK_SECONDS of work, and the claim spread
        over every thread."""
        if self._avg_job_seconds <= 0:
            return 1
        by_time = int(_CHUNK_SECONDS / self._avg_job_seconds)
        return max(1, min(by_time, claimed // self.concurrency))

    def _log_stopped_now(self, running: int) -> None:
        log.warning("worker %s stopped now: %d running job(s) returned to the queue, attempt not counted%s",
                    self.worker_id, running, "; their child processes were killed" if self.pool == "process" else "")

    def _wait_result(self, results: _queue.Queue, held: dict, outcomes: list[Outcome]) -> None:
        try:
            self._collect(results.get(timeout=_FLUSH_INTERVAL), held, outcomes)
        except _queue.Empty:
            return

    def _drain(self, results: _queue.Queue, held: dict, outcomes: list[Outcome]) -> None:
        """Collect what the threads finished, without waiting."""
        while True:
            try:
                self._collect(results.get_nowait(), held, outcomes)
            except _queue.Empty:
                return

    @staticmethod
    def _collect(finished: list[Outcome], held: dict, outcomes: list[Outcome]) -> None:
        for outcome in finished:
            held.pop(outcome.job_id, None)
        outcomes += finished
