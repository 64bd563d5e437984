"""Child processes that run jobs for a Worker with pool="process".

The worker process keeps everything that touches the database: it claims, reads the parents'
results, renews leases and group-commits outcomes. A child only runs functions: it gets a claimed
job (its encoded function and arguments, and the parents' results read by the worker) over a pipe
and sends back an Outcome. So CPU-bound Python tasks use every core, and a task that holds the
GIL for longer than the lease cannot make its job run twice (the worker renews the lease).

Decisions:
- Children are spawned, never forked: the worker holds DuckDB and threads, which a fork would copy
  in whatever state they were. Spawning re-imports the `__main__` of the worker's program, so a
  script that starts a process-pool Worker keeps it under `if __name__ == "__main__":`. A child
  says it is ready once that import is done: one that ends before is the worker's setup error
  (ChildStartError), not the job's, and a Worker(pool="process") made while a child imports the
  script again (no guard) is refused at once rather than wait forever on children of its own.
- One child per Worker thread, one job at a time: the thread waits on its child's pipe.
- What may run is checked in the worker (the allow-list, Loader.check_function): a child cannot
  know which functions the worker process enqueued. The child loads with the worker's serializer
  and any function, so serializer="json" still never unpickles there.
- A child that dies (a segfault, os._exit, the OOM killer) fails that attempt with an error that
  says so, and a new child takes its place. A job past its timeout_seconds is stopped for real:
  its child is killed and replaced.
- A child exits when its worker process dies (it watches the worker's sentinel): nothing is left
  running a job that the next worker runs again.
- Children ignore SIGINT and SIGTERM: a Ctrl-C or a supervisor's SIGTERM reaches the whole
  process group, and the worker decides (the first signal lets the running jobs finish, the
  second kills the children).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import threading
import time
from typing import Any

from .backend import Outcome, is_postgres_url
from .errors import ChildStartError, QueuackError, TaskImportError
from .jobs import Job
from .serialization import ANY, Loader

_POLL = 0.1  # seconds between looks at a running child (timeout, stop now)
CHILD_NAME = "queuack-child"
_READY = "ready"  # a child's first message: it got past importing the worker's __main__ again


class ShippedParents:
    """What a job's TaskContext reads, inside a child: its parents and their results, shipped by
    the worker with the job. `open_queue` serves `context.queue`."""

    def __init__(self, location: str, job_id: str, parents: list[tuple[str, str | None]],
                 results: dict[str, tuple[str, str, bytes | None, str | None]]):
        self.path = location
        self._job_id = job_id
        self._parents = parents
        self._results = results

    def parents(self, child_ids: list[str]) -> dict[str, list[tuple[str, str | None]]]:
        return {i: (self._parents if i == self._job_id else []) for i in child_ids}

    def results(self, ids: list[str]) -> dict[str, tuple[str, str, bytes | None, str | None]]:
        return {i: self._results[i] for i in ids if i in self._results}

    def statuses(self, ids: list[str]) -> dict[str, str]:
        return {i: self._results[i][0] for i in ids if i in self._results}

    def open_queue(self, loader: Loader):
        if is_postgres_url(self.path):  # any process may open a PostgreSQL queue
            from .queue import DuckQueue

            return DuckQueue(self.path, serializer=loader.serializer)
        raise QueuackError(owned_by_the_worker("context.queue", self.path))


def in_pool_child() -> bool:
    return multiprocessing.current_process().name == CHILD_NAME


def owned_by_the_worker(what: str, path: str) -> str:
    """Why a task in a process-pool child cannot open its queue's DuckDB file."""
    return (f"{what} is not available to a task running in a process-pool child: the worker process owns "
            f"{path}, and only one process can open a DuckDB file. Read parents with context.upstream() "
            "(`migrate apply` rewrites tasks that open the queue by path), return values instead of "
            "enqueueing from the task, or run this worker with pool='thread' (or the queue on PostgreSQL).")


def _end_with_the_worker() -> None:
    """Exit as soon as the worker process is gone (SIGKILL, a crash): its jobs run again elsewhere,
    and a child left running one would run it beside that second run, for as long as it hangs."""
    worker = multiprocessing.parent_process()
    if worker is not None:
        threading.Thread(target=lambda: (worker.join(), os._exit(1)), name="queuack-parent-watch",
                         daemon=True).start()


def _child_main(conn, serializer: str, location: str) -> None:
    from .execution import execute

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _end_with_the_worker()
    conn.send(_READY)
    loader = Loader(serializer, ANY)  # the worker checked the allow-list
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the worker is gone
            return
        if message is None:
            return
        job, parents, results = message
        job._store = ShippedParents(location, job.id, parents, results)
        try:
            reply: Any = execute(job, parents, loader)
        except TaskImportError as exc:
            reply = ("import", exc.function, exc.cause)
        conn.send(reply)


class Child:
    """One spawned process that runs jobs for one Worker thread."""

    def __init__(self, serializer: str, location: str):
        self._args = (serializer, location)
        self._process = None
        self._conn = None

    def _start(self, abort) -> bool:
        """Spawn the child and wait until it is ready; False when `abort` was set meanwhile.
        ChildStartError when it ends before (it never got to run a job)."""
        context = multiprocessing.get_context("spawn")
        mine, theirs = context.Pipe()
        process = context.Process(target=_child_main, args=(theirs, *self._args), name=CHILD_NAME, daemon=True)
        try:
            process.start()  # OSError when the system refuses (too many open files or processes)
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
        self._process, self._conn = process, mine
        try:
            while not mine.poll(_POLL):
                if abort.is_set():
                    self.kill()
                    return False
            mine.recv()
        except (EOFError, OSError):
            self._process.join(5.0)
            code = self._process.exitcode
            self._close()
            raise ChildStartError(code) from None
        return True

    def run(self, job: Job, parents: list[tuple[str, str | None]], results: dict, abort) -> Outcome | None:
        """Run the job in the child and return its outcome; None when `abort` was set meanwhile
        (the child is killed). TaskImportError when the child cannot import the function,
        ChildStartError when a new child ends before it is ready."""
        if (self._process is None or not self._process.is_alive()) and not self._start(abort):
            return None
        shipped = dataclasses.replace(job, _store=None, _loader=None, _parents=None, timeout_seconds=None)
        try:
            self._conn.send((shipped, parents, results))
        except (BrokenPipeError, OSError):
            return self._died(job)
        deadline = time.monotonic() + job.timeout_seconds if job.timeout_seconds else None
        while True:
            wait = _POLL if deadline is None else max(0.0, min(_POLL, deadline - time.monotonic()))
            try:
                if self._conn.poll(wait):
                    reply = self._conn.recv()
                    break
            except (EOFError, OSError):
                return self._died(job)
            if not self._process.is_alive() and not self._conn.poll(0):
                return self._died(job)
            if abort.is_set():
                self.kill()
                return None
            if deadline is not None and time.monotonic() >= deadline:
                self.kill()
                return Outcome.of(job, "error",
                                  error=f"JobTimeoutError: timed out after {job.timeout_seconds:g}s "
                                     "(its child process was killed and replaced)")
        if isinstance(reply, tuple) and reply[0] == "import":
            raise TaskImportError(reply[1], reply[2], in_child=True)
        return reply

    def _died(self, job: Job) -> Outcome:
        self._process.join(1.0)
        code = self._process.exitcode
        if code is not None and code < 0:
            how = f"killed by {signal.Signals(-code).name}"
        else:
            how = f"exit code {code}"
        self._close()
        return Outcome.of(job, "error",
                          error=f"ChildProcessError: the process running the job died ({how}): a crash in "
                             "native code, os._exit(), or the out-of-memory killer; a new process takes its place")

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5.0)
        self._close()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._process = None

    def stop(self) -> None:
        """Ask the child to exit after its job; kill it if it does not."""
        if self._process is None:
            return
        try:
            self._conn.send(None)
        except OSError:
            pass
        self._process.join(5.0)
        if self._process.is_alive():
            self.kill()
        self._close()
