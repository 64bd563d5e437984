"""The queuack 0.1 module path for its data classes: the runtime's own objects, re-exported.

0.1's engine internals (JobSpec, DAGNode, NodeKind, NodeType) have no counterpart here: a job is
described by the arguments of `DuckQueue.enqueue` / `DAG.add_job`.
"""

from .context import TaskContext, get_context, set_context
from .errors import BackpressureError, DAGValidationError
from .jobs import Job

__all__ = ["BackpressureError", "DAGValidationError", "Job", "TaskContext", "get_context", "set_context"]
