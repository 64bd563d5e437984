"""queuack: an embedded job queue and DAG runtime on DuckDB."""

from .context import TaskContext, get_context, set_context
from .dag import DAG, DAGStatus
from .errors import (
    DAGNotSubmittedError,
    DAGValidationError,
    DatabaseLockedError,
    EnqueueError,
    JobNotDoneError,
    JobNotFoundError,
    JobTimeoutError,
    QueuackError,
    SerializationError,
    TaskAbortedError,
    UpstreamError,
)
from .jobs import DependencyMode, Job, JobStatus
from .queue import DuckQueue
from .worker import Worker

__version__ = "0.2.0"

__all__ = [
    "DAG",
    "DAGStatus",
    "DAGNotSubmittedError",
    "DAGValidationError",
    "DatabaseLockedError",
    "DependencyMode",
    "DuckQueue",
    "EnqueueError",
    "Job",
    "JobNotDoneError",
    "JobNotFoundError",
    "JobStatus",
    "JobTimeoutError",
    "QueuackError",
    "SerializationError",
    "TaskAbortedError",
    "TaskContext",
    "UpstreamError",
    "Worker",
    "get_context",
    "set_context",
]
