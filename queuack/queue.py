"""DuckQueue: the public queue API. Validation and encoding happen here; SQL lives in the store."""

from __future__ import annotations

import functools
import inspect
import logging
import math
import os
import socket
import threading
import time
import warnings
import weakref
from typing import Any, Callable, Iterable, Sequence

from .constants import BACKPRESSURE_BLOCK_THRESHOLD, BACKPRESSURE_WARNING_THRESHOLD, DEFAULT_VISIBILITY_TIMEOUT
from .errors import (BackpressureError, DatabaseLockedError, EnqueueError, JobNotDoneError, JobNotFoundError,
                     MainModuleWarning, NotADeadLetterError, QueuackError, SerializationError)
from .jobs import DependencyMode, Job, JobStatus
from .serialization import Loader, describe, encode_args, encode_function, encode_value, remember_enqueued
from .backend import MEMORY, Backend, NewJob, Outcome, RetryPolicy, open_backend
from .context import _point as context_point
from .context import shifts_arguments

log = logging.getLogger("queuack")



# DuckQueue keyword arguments of queuack 0.1 that tuned its own machinery, and why they are not needed
_NO_EFFECT = {
    "values_threshold": "dependencies are inserted with their jobs in one statement",
    "dep_chunk_size": "dependencies are inserted with their jobs in one statement",
    "force_memory_db": "an in-memory queue is shared safely by any number of worker threads",
}


# backpressure: per backend and queue, (enqueues that need no count, warning, block threshold)
_budgets: "weakref.WeakKeyDictionary[Backend, dict[str, tuple[int, int, int]]]" = weakref.WeakKeyDictionary()
_budget_lock = threading.Lock()
_RECOUNT = 1000


def new_job_id() -> str:
    """A random (version 4) UUID as text, formatted directly: str(uuid.uuid4()) costs about a
    tenth of building a job in a batch."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


@functools.lru_cache(maxsize=1024)
def _call_shape(func: Callable):
    """(positional names, keyword names, required names, takes *args, takes **kwargs), or None."""
    try:
        params = inspect.signature(func, follow_wrapped=False).parameters.values()  # what the call accepts
    except (TypeError, ValueError):
        return None
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keywords = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    required = [p.name for p in params if p.default is p.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return (positional, keywords, required, any(p.kind is p.VAR_POSITIONAL for p in params),
            any(p.kind is p.VAR_KEYWORD for p in params))


def check_call(func: Callable, args: Sequence, kwargs: dict | None) -> None:
    """Refuse at enqueue time a call that could only fail with a TypeError in the worker (a typo in
    a keyword, too many or missing arguments). A context parameter may be left out: it is injected."""
    try:
        shape = _call_shape(func)
    except TypeError:  # unhashable callable
        shape = _call_shape.__wrapped__(func)
    if shape is None or not isinstance(args, (tuple, list)) or not isinstance(kwargs, (dict, type(None))):
        return
    positional, keywords, required, var_args, var_kwargs = shape
    kwargs = kwargs or {}
    point = context_point(func)
    if shifts_arguments(point, args) and point[0] in positional:
        positional = [n for n in positional if n != point[0]]  # the arguments fill the other slots
    problem = None
    if not var_args and len(args) > len(positional):
        problem = f"it takes {len(positional)} positional argument(s) but {len(args)} were given"
    elif not var_kwargs and (unknown := sorted(k for k in kwargs if k not in keywords)):
        problem = f"it has no parameter(s) named {', '.join(map(repr, unknown))}"
    elif both := sorted(set(positional[:len(args)]) & set(kwargs)):
        problem = f"{', '.join(map(repr, both))} given both by position and by keyword"
    else:
        given = set(positional[:len(args)]) | set(kwargs)
        missing = [name for name in required if name not in given]
        if missing:
            # the context parameter is filled in when the job runs
            missing = [name for name in missing if point is None or name != point[0]]
        if missing:
            problem = f"missing argument(s) {', '.join(map(repr, missing))}"
    if problem:
        raise EnqueueError(f"cannot enqueue {describe(func)}: the arguments do not fit its signature: {problem}")


_warned_script_functions: set[str] = set()


def _warn_if_script_function(func: Callable, location: str) -> None:
    """Once per function: a function of __main__ on a queue that other processes read can only
    be run by a Worker inside this same script (a `queuack worker` cannot import it)."""
    if getattr(func, "__module__", None) != "__main__":
        return
    name = describe(func)
    if name in _warned_script_functions:
        return
    _warned_script_functions.add(name)
    warnings.warn(MainModuleWarning(
        f"{name} is defined in the script you ran (module __main__): a Worker inside this script can run it, "
        f"but no other process (`queuack worker {location}`) can import it. Move it to a module (say "
        "tasks.py) and import it from there."), stacklevel=4)


class RetriedJobs(list):
    """The ids retry_dead_letters() retried, with the ids it skipped in `skipped`."""

    def __init__(self):
        super().__init__()
        self.skipped: list[str] = []


class DuckQueue:
    """A durable job queue in one DuckDB file (or in memory).

    Several DuckQueue objects on the same file in one process share one database and see the
    same jobs; closing one leaves the others working. Only one process can open a file: another
    process gets DatabaseLockedError.

    A file that is not a queuack database is refused (NotAQueueDatabaseError) and left unchanged.
    read_only=True looks at an existing queue file without writing anything to it (what
    `queuack stats` does); changing jobs through it raises QueuackError.

    serializer="pickle" (default) or "json": how this handle encodes jobs and what it decodes. A
    JSON handle never unpickles. allow: the functions its workers and job.execute() may run
    (module names, "module:qualname" strings, functions, or "*"); by default any function with
    pickle, and with json only the functions this process enqueued. See docs/RUNTIME.md.
    """

    owned_by_dag = False  # the private queue of a DAG built without one: its DAGs run their own jobs

    def __init__(
        self,
        db_path: str | os.PathLike | None = MEMORY,
        default_queue: str = "default",
        *,
        visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
        serializer: str = "pickle",
        retry_backoff: float = 1.0,
        retry_backoff_max: float = 300.0,
        retry_jitter: float = 0.25,
        serialization: str | None = None,
        allow: str | Callable | Iterable | None = None,
        workers_num: int | None = None,
        worker_concurrency: int | None = None,
        poll_timeout: float | None = None,
        logger: logging.Logger | None = None,
        read_only: bool = False,
        **tuning: Any,
    ):
        # the tuning knobs of queuack 0.1 are accepted so that old code keeps running, with a
        # warning: they tuned 0.1's SQL and have no counterpart here
        unknown = set(tuning) - set(_NO_EFFECT)
        if unknown:
            raise TypeError(f"DuckQueue() got unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        for name in sorted(tuning):
            warnings.warn(f"DuckQueue({name}=...) has no effect: {_NO_EFFECT[name]}; remove it",
                          DeprecationWarning, stacklevel=2)
        if visibility_timeout <= 0:
            raise ValueError("visibility_timeout must be a positive number of seconds")
        if retry_backoff < 0 or retry_backoff_max < 0:
            raise ValueError("retry_backoff and retry_backoff_max must be >= 0 seconds")
        if not 0 <= retry_jitter <= 1:
            raise ValueError(f"retry_jitter must be between 0 and 1 (a fraction of the delay), not {retry_jitter!r}")
        if serialization is not None:
            serializer = "json" if serialization == "json_ref" else serialization
        self.db_path = MEMORY if db_path is None else str(db_path)  # None: in memory, never a file named "None"
        self.default_queue = default_queue
        self.visibility_timeout = float(visibility_timeout)
        self.loader = Loader(serializer, allow)
        self.serializer = self.loader.serializer
        self.retry_policy = RetryPolicy(retry_backoff, retry_backoff_max, retry_jitter)
        self.logger = logger or log
        try:
            self._store = open_backend(self.db_path, read_only)
        except DatabaseLockedError as exc:
            from .processes import in_pool_child, owned_by_the_worker

            if in_pool_child() and exc.detail == f"PID {os.getppid()}":  # old task code, in a process pool
                exc.args = (owned_by_the_worker(f"DuckQueue({self.db_path!r})", self.db_path),)
            raise
        self._held: dict[str, tuple] = {}  # job id -> (attempt, codec, claim), for claims taken through this object
        self._closed = False
        self._pid = os.getpid()
        self._set_workers(workers_num, worker_concurrency, poll_timeout)

    def _set_workers(self, workers_num: int | None, worker_concurrency: int | None,
                     poll_timeout: float | None) -> None:
        """The background workers `with DuckQueue(...)` starts: none unless workers_num is given."""
        for name, value in (("workers_num", workers_num), ("worker_concurrency", worker_concurrency)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be positive or None (an int >= 1), not {value!r}")
        if poll_timeout is not None and poll_timeout <= 0:
            raise ValueError(f"poll_timeout must be a positive number of seconds, not {poll_timeout!r}")
        self.workers_num = workers_num
        self.worker_concurrency = worker_concurrency or 1
        self.poll_timeout = poll_timeout
        self._pool = None

    @classmethod
    def attach(cls, store: Backend, template: "DuckQueue | None" = None, loader: Loader | None = None) -> "DuckQueue":
        """Another handle on an open store (used for in-memory databases, which cannot be reopened by
        path), accepting what `template` (or `loader`) accepts."""
        handle = cls.__new__(cls)
        handle.db_path = store.path
        handle.default_queue = template.default_queue if template else "default"
        handle.visibility_timeout = template.visibility_timeout if template else DEFAULT_VISIBILITY_TIMEOUT
        handle.loader = template.loader if template else loader or Loader()
        handle.serializer = handle.loader.serializer
        handle.retry_policy = template.retry_policy if template else RetryPolicy()
        handle.logger = template.logger if template else log
        handle._store = store.retain()
        handle._held = {}
        handle._closed = False
        handle._pid = os.getpid()
        handle._set_workers(None, None, None)
        return handle

    # -- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop this handle's background workers (running jobs finish), then release it. The
        database closes when the last handle on it closes."""
        if not self._closed:
            self.stop_workers()
            self._closed = True
            self._store.release()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "DuckQueue":
        """With workers_num=N, start N background workers (worker_concurrency jobs at once each);
        leaving the block stops them, letting running jobs finish, and closes the queue."""
        if self.workers_num is not None:
            self.start_workers(self.workers_num, self.worker_concurrency)
        return self

    # -- background workers ------------------------------------------------------------------------
    def start_workers(self, num_workers: int = 4, concurrency: int = 1, daemon: bool = True):
        """Start `num_workers` Workers on background threads of this process; returns the WorkerPool.
        daemon=False blocks until Ctrl-C (KeyboardInterrupt), then stops them, as in queuack 0.1."""
        from .pool import WorkerPool

        self._live_store()
        if self._pool is not None and self._pool.running:
            raise QueuackError(f"{self!r} already runs {self._pool!r}; call stop_workers() first")
        self._pool = WorkerPool(self, num_workers, concurrency, poll_interval=self.poll_timeout).start()
        if not daemon:
            try:
                while self._pool.running:
                    time.sleep(0.2)
            except KeyboardInterrupt:
                pass
            finally:
                self.stop_workers()
        return self._pool

    def stop_workers(self, timeout: float = 30) -> None:
        """Stop the background workers, letting the jobs they run finish (up to `timeout` seconds)."""
        if self._pool is not None:
            self._pool.stop(timeout)
            self._pool = None

    # -- backpressure -----------------------------------------------------------------------------
    @classmethod
    def backpressure_warning_threshold(cls) -> int:
        """Waiting jobs in a queue at which enqueue logs a warning. Override in a subclass."""
        return BACKPRESSURE_WARNING_THRESHOLD

    @classmethod
    def backpressure_block_threshold(cls) -> int:
        """Waiting jobs in a queue beyond which enqueue raises BackpressureError. Override in a subclass."""
        return BACKPRESSURE_BLOCK_THRESHOLD

    def _check_backpressure(self, queue: str) -> None:
        """Count the queue's waiting jobs only when a threshold could have been reached since the
        last count (at least every _RECOUNT enqueues, for jobs other processes add): a count per
        enqueue would cost more than the enqueue itself once thousands of jobs wait."""
        warn, block = self.backpressure_warning_threshold(), self.backpressure_block_threshold()
        store = self._live_store()
        with _budget_lock:
            budgets = _budgets.setdefault(store, {})
            state = budgets.get(queue)
            if state is not None and state[0] > 0 and state[1:] == (warn, block):
                budgets[queue] = (state[0] - 1, warn, block)
                return
        waiting = store.waiting(queue, at_most=block + 1)
        if waiting > block:
            raise BackpressureError(
                f"queue {queue!r} is overloaded: {waiting} jobs waiting (the limit is {block}): start more "
                "workers, enqueue more slowly, raise backpressure_block_threshold() in a DuckQueue "
                "subclass, or pass check_backpressure=False")
        if waiting >= warn:
            message = f"queue {queue!r} has {waiting} jobs waiting (approaching limit {block}; warning at {warn})"
            self.logger.warning(message)
            warnings.warn(message, UserWarning, stacklevel=3)  # 0.1 code and tests catch this
            room = block - waiting  # warned once per count, not on every enqueue
        else:
            room = warn - waiting - 1
        with _budget_lock:
            _budgets.setdefault(store, {})[queue] = (min(room, _RECOUNT), warn, block)

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DuckQueue({self._store.path!r})"  # a PostgreSQL URL without its password

    @property
    def conn(self):
        """A DuckDB connection to this queue's database, for reading: SELECT from the tables in
        queuack/schema.sql (jobs, job_dependencies, dag_runs). Each access gives a new connection
        that sees every job enqueued so far. A job a Worker runs may still read 'pending' while its
        claim lives in memory: get_job() and stats() report it as claimed.

        Do not write through it: the queue keeps its schedule in memory and would not see the
        change. Use enqueue, ack, nack, retry_dead_letter and purge. DuckDB queues only."""
        return self._live_store().read_connection()

    def _live_store(self) -> Backend:
        if self._closed:
            raise QueuackError(f"this DuckQueue on {self._store.path} was closed; open a new one")
        if self._pid != os.getpid():  # a copy made by fork: its connection and schedule are the parent's
            raise QueuackError(
                f"this DuckQueue on {self._store.path} was opened in process {self._pid}, and this process "
                f"({os.getpid()}) is a fork of it, which cannot use its connection. Open the queue in the "
                "process that uses it: a DuckDB file belongs to one process (run the workers there, with "
                "DuckQueue(path, workers_num=...) or Worker(q, pool='process')); a PostgreSQL queue can be "
                "opened in each process")
        return self._store

    # -- enqueueing --------------------------------------------------------------------------------
    def build_job(
        self,
        func: Callable,
        args: Sequence = (),
        kwargs: dict | None = None,
        *,
        queue: str | None = None,
        priority: int = 50,
        delay_seconds: float = 0,
        max_attempts: int = 3,
        timeout_seconds: float | None = None,
        dependency_mode: str = "all",
        job_id: str | None = None,
        parents: Sequence[str] = (),
        node_name: str | None = None,
        dag_run_id: str | None = None,
        encoded: dict | None = None,
    ) -> NewJob:
        """Validate and encode one job without storing it. Errors name the function.

        encoded: shared by the jobs of one batch, so that a function is encoded (and remembered,
        and warned about) once per batch rather than once per job."""
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise EnqueueError(f"priority for {describe(func)} must be an int (higher runs first), not {priority!r}")
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise EnqueueError(f"max_attempts for {describe(func)} must be an int >= 1, not {max_attempts!r}")
        if delay_seconds is None or delay_seconds < 0:
            raise EnqueueError(f"delay_seconds for {describe(func)} must be >= 0, not {delay_seconds!r}")
        if timeout_seconds is not None and timeout_seconds <= 0:
            raise EnqueueError(f"timeout_seconds for {describe(func)} must be positive or None, not {timeout_seconds!r}")
        mode = str(dependency_mode.value if isinstance(dependency_mode, DependencyMode) else dependency_mode)
        if mode not in ("all", "any"):
            raise EnqueueError(f"dependency_mode for {describe(func)} must be 'all' or 'any', not {dependency_mode!r}")
        codec = self.serializer
        known = encoded.get(id(func)) if encoded is not None else None
        if known is None or known[0] is not func:
            known = (func, encode_function(func, codec))
            remember_enqueued(func)
            if self.db_path != MEMORY:
                _warn_if_script_function(func, self.db_path)
            if encoded is not None:
                encoded[id(func)] = known  # holds func, so its id is not reused within the batch
        func_blob = known[1]
        args_blob, kwargs_blob = encode_args(args, kwargs, codec, func)
        if encoded is None:
            check_call(func, args, kwargs)
        else:  # the same function with the same shape of call fits the same way
            call = (id(func), len(args), tuple(kwargs or ()), shifts_arguments(context_point(func), args))
            if call not in encoded:
                check_call(func, args, kwargs)
                encoded[call] = True
        return NewJob(
            id=job_id or new_job_id(),
            queue=queue or self.default_queue,
            priority=priority,
            codec=codec,
            func=func_blob,
            args=args_blob,
            kwargs=kwargs_blob,
            execute_after=time.time() + delay_seconds,
            max_attempts=max_attempts,
            timeout_seconds=timeout_seconds,
            node_name=node_name,
            dag_run_id=dag_run_id,
            dependency_mode=mode,
            parents=tuple(parents),
        )

    def enqueue(
        self,
        func: Callable,
        args: Sequence = (),
        kwargs: dict | None = None,
        *,
        queue: str | None = None,
        priority: int = 50,
        delay_seconds: float = 0,
        max_attempts: int = 3,
        timeout_seconds: float | None = None,
        depends_on: str | Sequence[str] | None = None,
        dependency_mode: str = "all",
        check_backpressure: bool = True,
    ) -> str:
        """Store one job and return its id. `depends_on` takes ids of jobs already in the queue.

        check_backpressure: refuse with BackpressureError when the queue already holds more than
        backpressure_block_threshold() waiting jobs; log a warning above the warning threshold."""
        parents = [depends_on] if isinstance(depends_on, str) else list(depends_on or ())
        job = self.build_job(
            func, args, kwargs, queue=queue, priority=priority, delay_seconds=delay_seconds,
            max_attempts=max_attempts, timeout_seconds=timeout_seconds, dependency_mode=dependency_mode,
            parents=parents,
        )
        if check_backpressure:
            self._check_backpressure(job.queue)
        self._live_store().insert([job])
        return job.id

    def enqueue_batch(
        self,
        jobs: Iterable,
        queue: str | None = None,
        priority: int = 50,
        max_attempts: int = 3,
        *,
        delay_seconds: float = 0,
        timeout_seconds: float | None = None,
    ) -> list[str]:
        """Store many jobs in one transaction: all of them or none. Items are (func, args, kwargs),
        (func, args) or a bare function."""
        built, encoded = [], {}
        for position, item in enumerate(jobs):
            if callable(item):
                item = (item,)
            if not isinstance(item, (tuple, list)) or not 1 <= len(item) <= 3:
                raise EnqueueError(f"enqueue_batch item {position} must be (func, args, kwargs), not {item!r}")
            func, args, kwargs = (tuple(item) + (None, None))[:3]
            built.append(self.build_job(
                func, args or (), kwargs, queue=queue, priority=priority, delay_seconds=delay_seconds,
                max_attempts=max_attempts, timeout_seconds=timeout_seconds, encoded=encoded,
            ))
        if built:
            self._live_store().insert(built)
        return [j.id for j in built]

    # -- claiming and acknowledging -----------------------------------------------------------------
    def claim(self, queue: str | None = None, worker_id: str | None = None,
              claim_timeout: float | None = None) -> Job | None:
        """Take the next ready job of `queue` with a lease of visibility_timeout seconds (or
        claim_timeout). Returns None when nothing is ready."""
        jobs = self.claim_batch(1, queue=queue, worker_id=worker_id, claim_timeout=claim_timeout)
        return jobs[0] if jobs else None

    def claim_batch(self, count: int = 10, queue: str | None = None, worker_id: str | None = None,
                    claim_timeout: float | None = None) -> list[Job]:
        if count < 1:
            raise ValueError("count must be at least 1")
        return self._claim([queue or self.default_queue], count, worker_id, claim_timeout)

    def _claim(self, queues: Sequence[str] | None, count: int, worker_id: str | None,
               lease: float | None = None) -> list[Job]:
        jobs = self._live_store().claim(queues, count, worker_id or default_worker_id(),
                                        lease or self.visibility_timeout)
        for job in jobs:
            self._held[job.id] = (job.attempts, job.codec, job._claim)
        return self._own(jobs)

    def _own(self, jobs: list[Job]) -> list[Job]:
        """Jobs read through this handle: job.execute() accepts what this handle accepts."""
        for job in jobs:
            job._loader = self.loader
        return jobs

    def _claim_of(self, job: str | Job) -> tuple[str, int | None, str, Any]:
        """(id, attempt, codec, the backend's claim handle) of the claim an ack or nack refers to;
        attempt None: not claimed."""
        if isinstance(job, Job):
            self._held.pop(job.id, None)
            return job.id, job.attempts, job.codec, job._claim
        held = self._held.pop(job, None)
        if held is not None:
            return (job, *held)
        # claimed through another handle: the current claim, if there is one
        record = self.get_job(job)
        if record.status is not JobStatus.CLAIMED:
            return job, None, record.codec, None
        return job, record.attempts, record.codec, None

    def ack(self, job_id: str | Job, result: Any = None, error: str | None = None,
            worker_id: str | None = None) -> bool:
        """Finish a claimed job. With `error`, it runs again after a backoff, or fails for good once
        its attempts are spent. Returns False (and changes nothing) when the claim is no longer
        current: its lease expired and the job went back to the queue or to another worker.
        Durable when it returns: on a DuckDB file an ack without error is journalled and synced
        (see docs/RUNTIME.md), a crash after it never runs the job again."""
        job_id, attempt, codec, claim = self._claim_of(job_id)
        if attempt is None:
            self._explain_unclaimed(job_id)
            return False
        if error is None:
            try:
                blob = encode_value(result, codec, "the result")
                outcome = Outcome(job_id, attempt, "done", result=blob, codec=codec, claim=claim)
            except SerializationError as exc:
                outcome = Outcome(job_id, attempt, "error", error=str(exc), claim=claim)
        else:
            outcome = Outcome(job_id, attempt, "error", error=str(error), claim=claim)
        applied = self._live_store().complete([outcome], self.retry_policy, lone=True)
        if job_id not in applied:
            self.logger.warning("ack for job %s ignored: its claim (attempt %s) is no longer current", job_id, attempt)
        return job_id in applied

    def nack(self, job_id: str | Job, requeue: bool = True) -> bool:
        """Give a claimed job back. requeue=True: claimable again at once, and this attempt does
        not count. requeue=False: it fails for good (a dead letter)."""
        job_id, attempt, _, claim = self._claim_of(job_id)
        if attempt is None:
            self._explain_unclaimed(job_id)
            return False
        kind = "release" if requeue else "fail"
        error = None if requeue else "rejected with nack(requeue=False)"
        return job_id in self._live_store().complete([Outcome(job_id, attempt, kind, error=error, claim=claim)])

    def _explain_unclaimed(self, job_id: str) -> None:
        job = self.get_job(job_id)  # raises JobNotFoundError for an unknown id
        self.logger.warning("job %s is %s, not claimed: nothing to acknowledge", job_id, job.status.value)

    # -- reading --------------------------------------------------------------------------------
    def get_job(self, job_id: str) -> Job:
        """The job's current record. Raises JobNotFoundError for an unknown id."""
        return self._own([self._live_store().get_job(job_id)])[0]

    def get_result(self, job_id: str) -> Any:
        """The job's return value. JobNotFoundError for an unknown id, JobNotDoneError (with the
        status) when it has not finished successfully."""
        status, codec, blob, error = self._live_store().results([job_id]).get(job_id, (None,) * 4)
        if status is None:
            raise JobNotFoundError(job_id)
        if status != "done":
            if status == "pending" and self.get_job(job_id).status is JobStatus.DELAYED:
                status = "delayed"
            raise JobNotDoneError(job_id, status, error)
        return self.loader.value(blob, codec, f"the result of job {job_id}")

    def stats(self, queue: str | None = None) -> dict[str, int]:
        """Job counts by status: pending, claimed, done, failed, delayed, skipped."""
        return self._live_store().stats(queue)

    def list_dead_letters(self, limit: int = 100) -> list[Job]:
        """Jobs that failed for good, newest first."""
        return self._own(self._live_store().dead_letters(limit))

    def retry_dead_letter(self, job_id: str) -> list[str]:
        """Put a failed job back in its queue with a fresh set of attempts. The jobs of its DAG
        that were skipped because it failed are pending again too, so the run resumes; returns
        their ids."""
        return self._live_store().retry_failed(job_id)

    def retry_dead_letters(self, queue: str | None = None, dag_run_id: str | None = None) -> "RetriedJobs":
        """retry_dead_letter() for every dead letter (of this queue, of this DAG run); returns the
        ids of the jobs retried. A job that stopped being a dead letter after the list was read
        (another process retried or purged it) is skipped, logged, and listed in `.skipped`."""
        store = self._live_store()
        failed = store.stats()["failed"]  # every queue's: the newest dead letters may be another queue's
        chosen = [j.id for j in store.dead_letters(max(failed, 1))
                  if (queue is None or j.queue == queue) and (dag_run_id is None or j.dag_run_id == dag_run_id)]
        retried = RetriedJobs()
        for job_id in chosen:
            try:
                store.retry_failed(job_id)
            except (NotADeadLetterError, JobNotFoundError):
                retried.skipped.append(job_id)
            else:
                retried.append(job_id)
        if retried.skipped:
            self.logger.warning("%d job(s) skipped, no longer dead letters (retried or purged elsewhere meanwhile): %s",
                                len(retried.skipped), ", ".join(retried.skipped))
        return retried

    retry = retry_dead_letter

    def purge(self, queue: str | None = None, status: str | Sequence[str] = "done",
              older_than_hours: float = 24) -> int:
        """Delete finished jobs older than this, with their dependency rows. Returns how many."""
        statuses = [status] if isinstance(status, str) else list(status)
        bad = set(statuses) - {"done", "failed", "skipped"}
        if bad:
            raise ValueError(f"purge only deletes finished jobs (done, failed, skipped), not {sorted(bad)}")
        if not isinstance(older_than_hours, (int, float)) or math.isnan(older_than_hours):
            # NaN compares greater than every time on PostgreSQL: it would purge everything
            raise ValueError(f"older_than_hours must be a number of hours, not {older_than_hours!r}")
        return self._live_store().purge(queue, statuses, time.time() - older_than_hours * 3600)

    # -- DAGs -----------------------------------------------------------------------------------
    def dag(self, name: str, description: str | None = None, validate: bool = True, fail_fast: bool = True):
        """The older DAG builder: `with q.dag("etl") as dag: dag.enqueue(fn, name="x")`."""
        from .dag import DAGContext

        return DAGContext(self, name, description=description, validate_on_exit=validate, fail_fast=fail_fast)

    create_dag = dag
