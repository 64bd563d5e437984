"""queuack: an embedded job queue and DAG runtime on DuckDB."""

import logging as _logging

from .connections import ConnectionPool
from .context import TaskContext, get_context, set_context
from .decorators import async_task, job
from .defaults import close_default_queue, get_default_queue
from .dag import DAG, DAGContext, DAGRun, DAGRunStatus, DAGStatus
from .errors import (
    BackpressureError,
    DAGAlreadySubmittedError,
    DAGNotSubmittedError,
    DAGRunNotFoundError,
    DAGValidationError,
    DatabaseLockedError,
    EnqueueError,
    JobNotDoneError,
    JobNotFoundError,
    JobTimeoutError,
    MainModuleWarning,
    NotADeadLetterError,
    NotAQueueDatabaseError,
    QueuackError,
    SerializationError,
    StorageWriteError,
    TaskAbortedError,
    TaskImportError,
    UntrustedError,
    UpstreamError,
    WorkerSetupError,
)
from .jobs import DependencyMode, Job, JobStatus
from .mermaid import MermaidColorScheme
from .pool import WorkerPool
from .queue import DuckQueue
from .subdag import SubDAGError
from .streaming import StreamReader, StreamWriter, async_generator_task, generator_task, streaming_task
from .status import NodeStatus, job_status_to_node_status, node_status_to_job_status
from .worker import Worker

__version__ = "0.2.0"

# A library leaves logging to the application: without a handler of its own, Python would print
# queuack's warnings to stderr through its last-resort handler.
_logging.getLogger("queuack").addHandler(_logging.NullHandler())

__all__ = [
    "BackpressureError",
    "ConnectionPool",
    "DAG",
    "DAGContext",
    "DAGStatus",
    "DAGAlreadySubmittedError",
    "DAGNotSubmittedError",
    "DAGRun",
    "DAGRunNotFoundError",
    "DAGRunStatus",
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
    "MainModuleWarning",
    "MermaidColorScheme",
    "NodeStatus",
    "NotADeadLetterError",
    "NotAQueueDatabaseError",
    "QueuackError",
    "SerializationError",
    "SubDAGError",
    "StorageWriteError",
    "StreamReader",
    "StreamWriter",
    "TaskAbortedError",
    "TaskImportError",
    "WorkerSetupError",
    "TaskContext",
    "UntrustedError",
    "UpstreamError",
    "Worker",
    "WorkerPool",
    "async_generator_task",
    "async_task",
    "close_default_queue",
    "generator_task",
    "get_context",
    "get_default_queue",
    "job",
    "job_status_to_node_status",
    "node_status_to_job_status",
    "set_context",
    "streaming_task",
]
