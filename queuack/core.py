"""The queuack 0.1 module path of the queue, its workers and DAGs: the same objects as `queuack.*`."""

from .dag import DAG
from .decorators import job
from .queue import DuckQueue
from .pool import WorkerPool
from .worker import Worker

__all__ = ["DAG", "DuckQueue", "Worker", "WorkerPool", "job"]
