"""The queuack 0.1 module path of the queue, its workers and DAGs: the same objects as `queuack.*`,
with the names 0.1's core module imported (Job, JobStatus, BackpressureError, DAGContext), and its ConnectionPool."""

from .connections import ConnectionPool
from .dag import DAG, DAGContext
from .decorators import job
from .errors import BackpressureError
from .jobs import Job, JobStatus
from .queue import DuckQueue
from .pool import WorkerPool
from .worker import Worker

__all__ = ["BackpressureError", "ConnectionPool", "DAG", "DAGContext", "DuckQueue", "Job", "JobStatus", "Worker", "WorkerPool", "job"]
