"""Sub-DAGs: a node of a DAG that builds a whole DAG of its own and runs it to the end.

`dag.add_subdag(factory, name="etl_1")`, or a factory passed to `add_node`, adds a job whose
function is a SubDAG. When that job runs, it calls `factory(queue)` with a handle on the same
queue, submits the DAG it returns, records the link (the sub-run's parent job), and runs the
sub-DAG's jobs right there, on the worker thread that runs the parent job, until they have all
finished. So the parent finishes after its sub-DAG, its children wait for the whole sub-DAG, and
the sub-DAG needs no other worker; other workers on the queue may help run its jobs.

A sub-DAG that does not end done makes the parent job fail (SubDAGError), which skips whatever
depends on the parent. Sub-DAG jobs get one attempt by default, as in queuack 0.1: a retry would
build and run the whole sub-DAG again.

Decided: the sub-DAG runs inside its parent job rather than being linked to it by a sentinel job
(queuack 0.1's way), because then a sub-DAG cannot be left half-submitted or waiting for a worker
that nobody started, and a DAG that owns a private in-memory queue runs its sub-DAGs too.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from .errors import QueuackError

_QUEUE_NAMES = {"queue", "q", "duckqueue", "dq", "parent_queue"}


class SubDAGError(QueuackError, RuntimeError):
    """A sub-DAG did not finish done (a job failed, or it timed out or was cancelled). Also a
    RuntimeError, which queuack 0.1 raised there."""


def is_factory(func: Callable) -> bool:
    """queuack 0.1's rule for add_node: a callable whose first positional parameter is named like a
    queue (queue, q, ...) or annotated with a queue type builds a sub-DAG."""
    try:
        params = [p for p in inspect.signature(func).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return False
    if not params:
        return False
    first = params[0]
    annotation = first.annotation
    annotated = "" if annotation is first.empty else str(getattr(annotation, "__name__", annotation)).lower()
    return first.name.lower() in _QUEUE_NAMES or "queue" in annotated


class SubDAG:
    """The function of a sub-DAG node (stored by pickle: the factory must be a module-level function)."""

    def __init__(self, factory: Callable, timeout: float | None = None, poll_interval: float = 1.0):
        if not callable(factory):
            raise TypeError(f"a sub-DAG needs a factory function f(queue) -> DAG, not {factory!r}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds or None, not {timeout!r}")
        self.factory = factory
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.__name__ = f"subdag:{getattr(factory, '__name__', 'factory')}"

    def __repr__(self) -> str:
        return f"SubDAG({getattr(self.factory, '__qualname__', self.factory)!r})"

    def __call__(self, context) -> str:
        """Build, submit and run the sub-DAG; returns its dag_run_id."""
        from .dag import DAG, DAGStatus

        queue = context.queue
        if queue is None:
            raise SubDAGError(f"{self!r} runs only as a job of a queue (it needs the queue to submit to)")
        dag = self.factory(queue)
        if not isinstance(dag, DAG):
            raise TypeError(f"sub-DAG factory {self.factory.__name__} must return a DAG, not {type(dag).__name__}")
        if dag.queue._live_store() is not queue._live_store():
            if dag.submitted:
                raise SubDAGError(
                    f"sub-DAG factory {self.factory.__name__} submitted DAG {dag.name!r} to a queue of its "
                    "own: build it on the queue it is given, DAG(name, queue=queue), and return it")
            dag.rebind(queue)
        run_id = dag.submit()
        queue._live_store().link_subdag(run_id, context.job_id)
        if dag.execute(timeout=self.timeout, poll_interval=self.poll_interval):
            return run_id
        status = dag.status
        detail = "timed out" if status in (DAGStatus.RUNNING, DAGStatus.PENDING) else f"ended {status.value}"
        failed = [row["name"] for row in dag.get_jobs() if row["status"] in ("failed", "skipped")]
        raise SubDAGError(f"sub-DAG {dag.name!r} (run {run_id}) {detail}"
                          + (f"; not done: {', '.join(failed)}" if failed else ""))


def graph_of_run(store: Any, dag_run_id: str, depth: int) -> tuple[list, list, dict, dict]:
    """(nodes, edges, subgraphs, kinds) of a stored run, for mermaid.render, with its own sub-DAG
    runs expanded down to `depth` more levels."""
    rows = store.dag_nodes(dag_run_id)
    names = {job_id: name for job_id, name, _ in rows}
    nodes = [(name, status) for _, name, status in rows]
    parents = store.parents(list(names)) if names else {}
    edges = [(names[p], names[c]) for c in names for p, _ in parents.get(c, ()) if p in names]
    subgraphs, kinds = {}, {}
    if depth > 0 and names:
        for job_id, sub_run in store.subdag_runs(list(names)).items():
            kinds[names[job_id]] = "subdag"
            subgraphs[names[job_id]] = graph_of_run(store, sub_run, depth - 1)
    return nodes, edges, subgraphs, kinds
