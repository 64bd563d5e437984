"""The job record and its states."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class JobStatus(str, Enum):
    """Lifecycle of a job. A str enum: `job.status == "done"` and `== JobStatus.DONE` both hold."""

    PENDING = "pending"  # waiting to be claimed (maybe for its parents or its execute_after)
    CLAIMED = "claimed"  # a worker holds its lease
    DONE = "done"
    FAILED = "failed"  # failed for good: a dead letter
    DELAYED = "delayed"  # reported by stats/get_job for pending jobs whose time has not come
    SKIPPED = "skipped"  # a job it depends on failed, so it never runs

    def __str__(self) -> str:
        return self.value


TERMINAL = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.SKIPPED})


class DependencyMode(str, Enum):
    ALL = "all"  # run when every parent is done
    ANY = "any"  # run once one parent is done

    def __str__(self) -> str:
        return self.value


def _when(ts: float | None) -> _dt.datetime | None:
    return None if ts is None else _dt.datetime.fromtimestamp(ts)


@dataclass
class Job:
    """One stored function call. `func`, `args` and `kwargs` stay encoded until the job runs."""

    id: str
    func: bytes
    args: bytes
    kwargs: bytes
    queue: str
    status: JobStatus
    priority: int = 50
    codec: str = "pickle"
    created_ts: float = 0.0
    execute_after_ts: float = 0.0
    claimed_ts: float | None = None
    completed_ts: float | None = None
    claimed_by: str | None = None
    attempts: int = 0
    max_attempts: int = 3
    timeout_seconds: float | None = None
    result: bytes | None = None
    error: str | None = None
    traceback: str | None = None
    node_name: str | None = None
    dag_run_id: str | None = None
    dependency_mode: str = "all"
    # the store the job was read from: lets job.execute() build a TaskContext without a queue in hand
    _store: Any = field(default=None, repr=False, compare=False)
    # what the queue it was read through accepts (serialization.Loader): job.execute() obeys it
    _loader: Any = field(default=None, repr=False, compare=False)
    # its parents as (id, node name) in declaration order, when the claim that read it knew them
    # (a worker's thread then needs no lock for them); None: the TaskContext reads them when asked
    _parents: Any = field(default=None, repr=False, compare=False)
    # the backend's handle of the claim it was read with (PostgreSQL: its token); outcomes carry it back
    _claim: Any = field(default=None, repr=False, compare=False)

    @property
    def function(self) -> str:
        """'module.qualname' of the job's function, read without importing or unpickling it."""
        from .serialization import function_name

        return function_name(self.func, self.codec)

    def __repr__(self) -> str:
        # what identifies the job and how it stands; not its encoded payload or whole traceback
        parts = [f"id={self.id!r}", f"function={self.function!r}"]
        if self.node_name:
            parts.append(f"node_name={self.node_name!r}")
        parts += [f"status={self.status.value if isinstance(self.status, JobStatus) else self.status!r}",
                  f"attempts={self.attempts}/{self.max_attempts}", f"queue={self.queue!r}"]
        if self.error:
            first = self.error.strip().splitlines()[0] if self.error.strip() else ""
            parts.append(f"error={first[:77] + '...' if len(first) > 80 else first!r}")
        return f"Job({', '.join(parts)})"

    @property
    def created_at(self) -> _dt.datetime | None:
        return _when(self.created_ts)

    @property
    def execute_after(self) -> _dt.datetime | None:
        return _when(self.execute_after_ts)

    @property
    def claimed_at(self) -> _dt.datetime | None:
        return _when(self.claimed_ts)

    @property
    def completed_at(self) -> _dt.datetime | None:
        return _when(self.completed_ts)

    def execute(self, logger: Any = None) -> Any:
        """Run the function here and return its result, injecting a TaskContext where it asks for one.

        The job's state in the queue is not changed: that is what a Worker (or `ack`) does.
        `logger` is accepted for queuack 0.1 code (`job.execute(logger=...)`) and not used.
        A job with timeout_seconds raises JobTimeoutError once that time has passed.
        A task that raises KeyboardInterrupt, SystemExit or another BaseException raises
        TaskAbortedError here (an Exception); a Ctrl-C delivered meanwhile stays KeyboardInterrupt.
        """
        from .execution import execute_here

        return execute_here(self, self._loader)
