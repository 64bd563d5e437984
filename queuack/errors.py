"""Every exception queuack raises on purpose. Each message says what is wrong and what to do."""

from __future__ import annotations

import re


def describe_exception(exc: BaseException) -> str:
    """How an exception reads in a job's error, a log line or a message: `TypeName: message`, or
    just `TypeName` when it has no message (MemoryError(), a bare `raise ValueError`)."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class QueuackError(Exception):
    """Base class of queuack's own errors."""


class DatabaseLockedError(QueuackError):
    """Another process holds the DuckDB file: DuckDB allows one process per database file."""

    def __init__(self, path: str, detail: str = ""):
        self.path = path
        self.detail = detail
        holder = f" ({detail})" if detail else ""
        super().__init__(
            f"{path} is in use by another process{holder}. DuckDB lets only one process open a "
            "database file at a time. Stop that process, run your workers inside it, or give this "
            "process its own database file."
        )

    @classmethod
    def from_duckdb(cls, path: str, exc: Exception) -> "DatabaseLockedError | None":
        """The error for DuckDB's "Could not set lock on file" (naming the holder's PID), else None."""
        text = str(exc)
        if "lock" not in text.lower():
            return None
        pid = re.search(r"PID (\d+)", text)
        return cls(path, f"PID {pid.group(1)}" if pid else "")


class JobNotFoundError(QueuackError, KeyError, ValueError):
    """No job with this id exists in the queue. Also a ValueError, which queuack 0.1's get_result raised."""

    def __init__(self, job_id: str):
        self.job_id = job_id
        super().__init__(f"no job with id {job_id!r} in this queue (not found: was it purged, or enqueued on another "
                         "file?)")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class NotADeadLetterError(QueuackError, ValueError):
    """Only a dead letter (a failed job) can be retried; this job is not (or no longer) one."""

    def __init__(self, job_id: str, status: str):
        self.job_id, self.status = job_id, status
        super().__init__(f"job {job_id} is {status!r}, not failed: only dead letters can be retried")


class JobNotDoneError(QueuackError, ValueError):
    """The job exists but has no result (yet): its status says why. Also a ValueError, which
    queuack 0.1 raised there."""

    def __init__(self, job_id: str, status: str, error: str | None = None):
        self.job_id = job_id
        self.status = status
        self.error = error
        hint = {
            "pending": "it has not run yet; wait for it (e.g. dag.wait_for_completion()) or run a worker",
            "delayed": "it is scheduled for later",
            "claimed": "a worker is running it now",
            "failed": "it failed for good" + (f": {error}" if error else ""),
            "skipped": "it was skipped because a job it depends on failed",
        }.get(status, "")
        super().__init__(f"job {job_id} is not done, so it has no result: its status is {status!r}; {hint}")


class EnqueueError(QueuackError, ValueError):
    """A job cannot be stored (unpicklable function or argument, bad option)."""


class BackpressureError(EnqueueError):
    """An enqueue was refused because its queue already holds too many waiting jobs."""


class SerializationError(QueuackError):
    """A value could not be turned into bytes, or back."""


class UntrustedError(QueuackError):
    """The database asks for what this process does not trust: unpickling in a queue set to
    serializer="json", or a function outside the worker's allow-list. A job refused so fails
    without running; nothing is unpickled or imported."""


class DAGValidationError(QueuackError, ValueError):
    """A DAG was refused at submission: cycle, unknown dependency, duplicate name..."""


class DAGNotSubmittedError(QueuackError, RuntimeError):
    """A DAG was asked about its run before it was submitted. Also a RuntimeError, which is what
    queuack 0.1 raised there."""


class DAGAlreadySubmittedError(DAGValidationError, RuntimeError):
    """A task was added to a DAG after its submission. Also a RuntimeError, as in queuack 0.1."""


class DAGRunNotFoundError(QueuackError, LookupError, ValueError):
    """No DAG run with this id in the queue. Also a ValueError, which is what queuack 0.1 raised."""

    def __init__(self, dag_run_id: str):
        self.dag_run_id = dag_run_id
        super().__init__(f"no DAG run with id {dag_run_id!r} in this queue (was it submitted to another one?)")


class UpstreamError(QueuackError, LookupError, ValueError):
    """A task asked its context for an upstream result that it cannot have. Also a ValueError,
    which is what queuack 0.1 raised there (old tasks catch it)."""


class JobTimeoutError(QueuackError, TimeoutError):
    """A job ran longer than its timeout_seconds."""


class TaskAbortedError(QueuackError):
    """A task raised a BaseException that is not an Exception (KeyboardInterrupt, SystemExit...)
    while running through job.execute(): reported as an Exception so that code which records
    failures with `except Exception` records this one too."""

    def __init__(self, task: str, cause: BaseException):
        self.cause = cause
        super().__init__(
            f"task {task} raised {describe_exception(cause)}. That is not an Exception, so queuack "
            "reports it as this error: record it as the job's failure (a worker does). A Ctrl-C "
            "delivered to this process still raises KeyboardInterrupt."
        )


class WorkerSetupError(QueuackError):
    """The worker cannot run jobs where it is: the worker's fault, not the job's. The job goes back
    to the queue with its attempt not counted, and the worker stops rather than eat the queue."""


class TaskImportError(WorkerSetupError):
    """A worker cannot import a job's function: its module is not on the worker's path, fails to
    import, or no longer has that function."""

    def __init__(self, function: str, cause: BaseException, in_child: bool = False):
        self.function = function
        self.cause = cause
        if function.startswith("__main__.") and in_child:
            hint = (f"{function} was defined in the program that runs this process-pool Worker, and its child "
                    "process imports that program's __main__ again only from a script file (python "
                    "script.py), not from `python -c`, a notebook or the interactive prompt. Move the "
                    "function to a module that the program imports, or use pool='thread'.")
        elif function.startswith("__main__."):
            hint = (f"{function} was defined in the script that enqueued it (module __main__), and no other "
                    "process can import a script's __main__. Move the function to a module (say tasks.py) "
                    "that the script imports, and start the worker where that module imports; or run the "
                    "Worker inside the script itself.")
        else:
            hint = ("A worker imports job functions by module name: start it from your project directory, "
                    "add directories with `queuack worker --path DIR` (or PYTHONPATH), and install what the "
                    "module imports.")
        super().__init__(f"cannot import the job function {function}: {describe_exception(cause)}. {hint} "
                         "Its jobs stay pending, their attempts not counted.")


class ChildStartError(WorkerSetupError):
    """A process-pool child ended while it started, before it could run a job; most often a script
    without `if __name__ == "__main__":` (spawning imports the script again in the child)."""

    def __init__(self, exitcode: int | None):
        self.exitcode = exitcode
        super().__init__(
            f"a process-pool child ended while starting, before it ran any job (exit code {exitcode}; its error, "
            "if any, is above on stderr). Spawning a child imports the script that started the Worker "
            "(module __main__) again: keep the code that opens the queue and runs the Worker under "
            '`if __name__ == "__main__":`. Its jobs stay pending, their attempts not counted.')


class MainModuleWarning(UserWarning):
    """A function defined in __main__ (a script) was enqueued on a queue other processes read: only
    a worker inside that same script can run it."""


class JournalDamagedWarning(RuntimeWarning):
    """The enqueue journal held bytes that could not be read: intact records were kept, and the
    journal as found was copied beside it (the warning names the copy)."""


class NotAQueueDatabaseError(QueuackError):
    """The database exists but is not a queuack database (another application's, or empty where
    a queue must already exist). Nothing was written to it."""


class StorageWriteError(QueuackError):
    """A write to the queue's files failed: the disk is full, the file cannot grow, or it cannot be
    written. Nothing of the failed change was stored, and everything stored before is intact."""

    _FULL = ("no space left", "file too large", "quota")

    def __init__(self, path: str, cause: str):
        self.path = path
        self.cause = cause
        full = any(sign in cause.lower() for sign in self._FULL)
        what = "the disk is full (or the file reached a size limit)" if full else "the file cannot be written"
        super().__init__(
            f"cannot write to {path}: {what}. {cause}. Nothing of this change was stored; what was "
            "stored before is intact. Free disk space (or fix what stops the write) and try again; "
            "a running Worker keeps its jobs and retries by itself."
        )


class BackendUnavailableError(QueuackError, ConnectionError):
    """The database server cannot be reached (or was lost and did not come back in time)."""
