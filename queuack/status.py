"""The queuack 0.1 module path for statuses.

JobStatus, DependencyMode and DAGRunStatus are the runtime's own objects, re-exported. NodeStatus
and the two mapping functions exist for 0.1 code that translated between a job's state in the
queue and a node's state in its DAG: a claimed job counts as running only once it has started.
"""

from __future__ import annotations

from enum import Enum

from .dag import DAGRunStatus
from .jobs import DependencyMode, JobStatus

__all__ = ["DAGRunStatus", "DependencyMode", "JobStatus", "NodeStatus",
           "job_status_to_node_status", "node_status_to_job_status"]


class NodeStatus(str, Enum):
    PENDING = "pending"  # waiting for its parents (or its time)
    READY = "ready"  # its parents are done: it can run
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # a parent failed

    def __str__(self) -> str:
        return self.value


def _member(enum, value, what: str):
    try:
        return enum(value.value if isinstance(value, Enum) else value)
    except ValueError:
        raise ValueError(f"Unsupported {what}: {value!r}; expected one of "
                         f"{', '.join(m.value for m in enum)}") from None


def job_status_to_node_status(job_status, *, claimed_started: bool = False) -> NodeStatus:
    """A job's queue state as its DAG node's state. Delayed jobs are pending nodes."""
    status = _member(JobStatus, job_status, "JobStatus")
    if status is JobStatus.CLAIMED:
        return NodeStatus.RUNNING if claimed_started else NodeStatus.PENDING
    if status is JobStatus.DELAYED:
        return NodeStatus.PENDING
    return NodeStatus(status.value)


def node_status_to_job_status(node_status, *, map_skipped_to_failed: bool = True) -> JobStatus:
    """A node's state as the job state that stores it. map_skipped_to_failed is accepted for 0.1
    code; as there, a skipped node is a skipped job."""
    status = _member(NodeStatus, node_status, "NodeStatus")
    if status is NodeStatus.READY:
        return JobStatus.PENDING
    if status is NodeStatus.RUNNING:
        return JobStatus.CLAIMED
    return JobStatus(status.value)
