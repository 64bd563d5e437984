"""Running one job: decode it, inject the context, enforce the timeout, capture the outcome.

Whatever a task raises, KeyboardInterrupt, SystemExit and other BaseExceptions included, is the
job's failure, recorded and retried like any exception: a task must not be able to stop the
worker that runs it. Only a signal delivered to the process stops a worker (its handlers turn
SIGTERM/SIGINT into a clean stop, and a second signal raises StopNow out of the running job, the
one exception let through). `job.execute()` in user code raises such a failure as
TaskAbortedError, an Exception, so that the usual `except Exception` around it records the
job's failure too, while a Ctrl-C that really arrives during the call stays a KeyboardInterrupt.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import signal
import threading
import traceback
from contextlib import contextmanager
from typing import Any, Iterator

from .context import TaskContext, inject, reset_context, set_context
from .errors import describe_exception, JobTimeoutError, SerializationError, TaskAbortedError, TaskImportError, UntrustedError
from .jobs import Job
from .serialization import TRUSTING, Loader, encode_value
from .backend import Outcome


class StopNow(BaseException):
    """Raised by a worker's second SIGINT/SIGTERM in the job running on the signalled thread: the
    job is abandoned and goes back to the queue, its attempt not counted (see Worker.stop)."""


def _run_coroutine(coro) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # called from inside an event loop (e.g. job.execute() in async code): use a loop of our own,
    # in a thread that carries this thread's context variables (get_context() inside the task)
    box: dict[str, Any] = {}
    variables = contextvars.copy_context()

    def runner() -> None:
        try:
            box["value"] = variables.run(asyncio.run, coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=runner, name="queuack-async-job")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def run_job(job: Job, parents: list[tuple[str, str | None]] | None = None, loader: Loader | None = None) -> Any:
    """Call the job's function here and return what it returned (exceptions propagate).

    `loader` decides what may be decoded and run (UntrustedError before anything runs); by default
    the one of the queue the job came from.
    A function with a `context`/`ctx` parameter gets a TaskContext; get_context() returns it
    while the job runs, and the previous value comes back afterwards, also when the job raises.
    """
    loader = loader or job._loader or TRUSTING
    what = f"job {job.id}"
    func = loader.function(job.func, job.codec, what)
    args = loader.value(job.args, job.codec, what)
    kwargs = loader.value(job.kwargs, job.codec, what)

    def make_context() -> TaskContext:
        return TaskContext(job.id, job.dag_run_id, job.node_name, max(job.attempts, 1),
                           store=job._store, parents=parents, loader=loader)

    args, kwargs, context = inject(func, tuple(args), kwargs, make_context)
    if context is None:
        context = make_context()
    token = set_context(context)
    try:
        result = func(*args, **kwargs)
        if inspect.iscoroutine(result):
            result = _run_coroutine(result)
        return result
    finally:
        reset_context(token)
        context._release()


def _describe_error(exc: BaseException) -> tuple[str, str]:
    return describe_exception(exc), "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def execute(job: Job, parents: list[tuple[str, str | None]] | None = None, loader: Loader | None = None) -> Outcome:
    """Run a claimed job and describe how it ended. Whatever the task raises (a BaseException too)
    is the job's failure; only StopNow and TaskImportError (the function cannot be imported here)
    come out, for the worker."""
    try:
        if job.timeout_seconds:
            result = _run_with_timeout(job, parents, loader)
        else:
            result = run_job(job, parents, loader)
        blob = encode_value(result, job.codec, f"the result of {job.node_name or job.id}")
    except (StopNow, TaskImportError):  # the worker's to handle: not the job's failure
        raise
    except BaseException as exc:  # sys.exit(), KeyboardInterrupt raised by the task: it fails
        error, tb = _describe_error(exc)
        # refused by the queue's trust rules: another attempt would be refused the same way
        kind = "fail" if isinstance(exc, UntrustedError) else "error"
        return Outcome.of(job, kind, error=error, traceback=tb)
    return Outcome.of(job, "done", result=blob, codec=job.codec)


def execute_here(job: Job, loader: Loader | None = None) -> Any:
    """job.execute(): run the job in the caller's code and return its result. A BaseException that
    the task raises comes out as TaskAbortedError; a SIGINT received meanwhile stays a
    KeyboardInterrupt (see the module docstring)."""
    with _noting_sigint() as arrived:
        try:
            if job.timeout_seconds:
                return _run_with_timeout(job, None, loader)
            return run_job(job, loader=loader)
        except Exception:
            raise
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt) and arrived:
                raise
            raise TaskAbortedError(job.node_name or job.id, exc) from exc


@contextmanager
def _noting_sigint() -> Iterator[list[int]]:
    """While active on the main thread, note in the yielded list whether a SIGINT arrived; the
    handler in place still runs as before. Elsewhere no signal interrupts the caller."""
    arrived: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield arrived
        return

    def noting(signum, frame):
        arrived.append(signum)
        return previous(signum, frame)

    signal.signal(signal.SIGINT, noting)
    try:
        yield arrived
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_with_timeout(job: Job, parents, loader: Loader | None) -> Any:
    """Run in a thread of its own and stop waiting after timeout_seconds.

    Python cannot kill a thread: an overrunning job's thread (a daemon) keeps running until its
    function returns, and whatever it returns then is discarded. The job is recorded as timed out
    at once and retried or failed like any other error.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = run_job(job, parents, loader)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"queuack-job-{job.id[:8]}", daemon=True)
    thread.start()
    thread.join(job.timeout_seconds)
    if thread.is_alive():
        raise JobTimeoutError(f"timed out after {job.timeout_seconds:g}s")
    if "error" in box:
        raise box["error"]
    return box.get("value")
