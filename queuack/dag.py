"""DAGs of named tasks on a DuckQueue: building, validation, submission and run status."""

from __future__ import annotations

import heapq
import logging
import threading
import time
import uuid
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Sequence

from .errors import DAGAlreadySubmittedError, DAGNotSubmittedError, DAGRunNotFoundError, DAGValidationError
from .jobs import Job
from .queue import DuckQueue, new_job_id

log = logging.getLogger("queuack")

# DAG options of queuack 0.1 that this DAG does not need, and why
_NO_EFFECT = {
    "validate": "a DAG is always validated when it is submitted",
    "fail_fast": "a DAG that does not validate is always refused (DAGValidationError)",
    "timing": "each job's created_at and completed_at are in dag.get_jobs()",
}


class DAGStatus(str, Enum):
    PENDING = "pending"  # not submitted, or nothing has started
    RUNNING = "running"
    DONE = "done"  # every job done
    FAILED = "failed"  # finished, and some job failed or was skipped
    CANCELLED = "cancelled"  # cancel() skipped what had not started

    def __str__(self) -> str:
        return self.value


DAGRunStatus = DAGStatus  # the queuack 0.1 name


@dataclass
class _Node:
    name: str
    job_id: str
    func: Callable
    args: Sequence
    kwargs: dict | None
    depends_on: list[str]
    job: Any  # the encoded job (a store.NewJob); parents and names are filled in at submission


class DAG:
    """A named graph of tasks. Leaving the `with` block (or submit()) validates it and stores all
    of its jobs in one transaction; a refused DAG leaves nothing behind."""

    def __init__(self, name: str, queue: DuckQueue | None = None, description: str | None = None,
                 validate: bool = True, fail_fast: bool = True, timing: bool = False):
        # validate, fail_fast and timing are accepted so that queuack 0.1 code keeps running, with
        # a warning where they would change something there: a DAG is always validated when it is
        # submitted, an invalid one is always refused, and no timing lines are printed.
        for option, value, default in (("validate", validate, True), ("fail_fast", fail_fast, True),
                                       ("timing", timing, False)):
            if value != default:
                warnings.warn(f"DAG({option}={value!r}) has no effect: {_NO_EFFECT[option]}",
                              DeprecationWarning, stacklevel=2)
        if not name or not isinstance(name, str):
            raise ValueError("a DAG needs a name (a non-empty string)")
        self.name = name
        self.description = description
        self.timing = timing
        self._owns_queue = queue is None
        self.queue = queue if queue is not None else DuckQueue()
        if queue is None:
            self.queue.owned_by_dag = True  # see wait_for_completion
        self.dag_run_id = str(uuid.uuid4())
        self._nodes: dict[str, _Node] = {}
        self._names_in_order: list[str] = []
        self._duplicates: list[str] = []
        self._by_id: dict[str, str] = {}
        self._submitted = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DAG({self.name!r}, {len(self._nodes)} tasks, {'submitted' if self._submitted else 'not submitted'})"

    # -- building --------------------------------------------------------------------------------
    def add_job(
        self,
        func: Callable,
        name: str | None = None,
        depends_on: str | Sequence[str] | None = None,
        args: Sequence = (),
        kwargs: dict | None = None,
        *,
        priority: int = 50,
        max_attempts: int = 3,
        timeout_seconds: float | None = None,
        dependency_mode: str = "all",
        queue: str | None = None,
        delay_seconds: float = 0,
    ) -> str:
        """Add a task; returns its job id at once (usable in args or in another depends_on).
        depends_on: a task name in this DAG (also one added later), a list of them, or the id of
        a job already in the queue."""
        if self._submitted:
            raise DAGAlreadySubmittedError(f"DAG {self.name!r} was already submitted; build a new DAG for more tasks")
        if name is None:
            base = getattr(func, "__name__", "task")
            name, n = base, 1
            while name in self._nodes:
                n += 1
                name = f"{base}_{n}"
        if not isinstance(name, str) or not name:
            raise DAGValidationError(f"a task name must be a non-empty string, not {name!r}")
        try:
            parents = [depends_on] if isinstance(depends_on, str) else list(depends_on or ())
        except TypeError:
            parents = [depends_on]
        if not all(isinstance(p, str) for p in parents):
            raise TypeError(f"depends_on of task {name!r} takes a task name, a job id or a list of them, "
                            f"not {depends_on!r}")
        job_id = new_job_id()
        options = dict(priority=priority, max_attempts=max_attempts, timeout_seconds=timeout_seconds,
                       dependency_mode=dependency_mode, queue=queue, delay_seconds=delay_seconds)
        # encoded now, so that an unstorable function fails here, at the line that added it
        job = self.queue.build_job(func, args, kwargs, job_id=job_id, **options)
        if name in self._nodes:
            self._duplicates.append(name)
            return job_id
        self._nodes[name] = _Node(name, job_id, func, args, kwargs, parents, job)
        self._names_in_order.append(name)
        self._by_id[job_id] = name
        return job_id

    def add_node(
        self,
        func: Callable,
        name: str | None = None,
        kind: str | None = None,
        args: Sequence = (),
        kwargs: dict | None = None,
        depends_on: str | Sequence[str] | None = None,
        priority: int = 50,
        max_attempts: int | None = None,
        timeout_seconds: float | None = None,
        dependency_mode: str = "all",
        *,
        queue: str | None = None,
        delay_seconds: float = 0,
        poll_interval: float = 1.0,
        timeout: float | None = None,
    ) -> str:
        """add_job, in queuack 0.1's argument order (func, name, kind, args, kwargs, depends_on, ...).

        kind: "job", "subdag", or None to decide as 0.1 did: a function whose first parameter is
        named like a queue (queue, q, ...) is a sub-DAG factory f(queue) -> DAG (see add_subdag;
        poll_interval and timeout apply to sub-DAGs only)."""
        if kind not in (None, "job", "subdag"):
            raise ValueError(f"kind must be 'job', 'subdag' or None (decide from the function), not {kind!r}")
        from .subdag import is_factory

        options = dict(priority=priority, timeout_seconds=timeout_seconds, dependency_mode=dependency_mode,
                       queue=queue, delay_seconds=delay_seconds)
        if kind == "subdag" or (kind is None and is_factory(func)):
            if args or kwargs:
                raise TypeError(f"sub-DAG node {name!r}: a factory takes only the queue, not args/kwargs")
            return self.add_subdag(func, name, depends_on, poll_interval=poll_interval, timeout=timeout,
                                   max_attempts=max_attempts or 1, **options)
        if timeout is not None:
            raise TypeError(f"timeout= applies to sub-DAG nodes; for a job of {name!r} use timeout_seconds=")
        return self.add_job(func, name, depends_on, args, kwargs, max_attempts=max_attempts or 3, **options)

    def add_subdag(self, factory: Callable, name: str | None = None, depends_on: str | Sequence[str] | None = None,
                   poll_interval: float = 1.0, timeout: float | None = None, **job_options: Any) -> str:
        """Add a node that runs a whole DAG: when its turn comes, `factory(queue)` builds a DAG on
        the same queue, which is submitted and run to the end before this node finishes (see
        subdag.py). The factory must be a module-level function. One attempt unless max_attempts
        says otherwise; timeout: the most seconds the sub-DAG may take."""
        from .subdag import SubDAG

        job_options.setdefault("max_attempts", 1)
        name = name or getattr(factory, "__name__", "subdag")
        return self.add_job(SubDAG(factory, timeout, poll_interval), name, depends_on, **job_options)

    def with_timing(self, enabled: bool = True) -> "DAG":
        """queuack 0.1's switch for per-task timing lines; warns that it has no effect here (see
        _NO_EFFECT) and returns the DAG, so that `DAG(...).with_timing()` chains still work."""
        if enabled:
            warnings.warn(f"DAG.with_timing() has no effect: {_NO_EFFECT['timing']}", DeprecationWarning, stacklevel=2)
        return self

    def rebind(self, queue: DuckQueue) -> None:
        """Move a DAG that is not submitted yet onto `queue` (closing a private queue it owned)."""
        if self._submitted:
            raise DAGValidationError(f"DAG {self.name!r} was already submitted to {self.queue!r}")
        codecs = {node.job.codec for node in self._nodes.values()}
        if codecs - {queue.serializer}:
            raise DAGValidationError(f"DAG {self.name!r} encoded its jobs with {', '.join(sorted(codecs))}; "
                                     f"{queue!r} uses {queue.serializer}")
        if self._owns_queue:
            self.queue.close()
        self.queue, self._owns_queue = queue, False

    def enqueue(
        self,
        func: Callable,
        args: Sequence = (),
        kwargs: dict | None = None,
        name: str | None = None,
        depends_on: str | Sequence[str] | None = None,
        *,
        priority: int = 50,
        max_attempts: int = 3,
        timeout_seconds: float | None = None,
        dependency_mode: str = "all",
        queue: str | None = None,
        delay_seconds: float = 0,
    ) -> str:
        """The `q.dag()` builder's spelling of add_job (args before name, as in queuack 0.1)."""
        return self.add_job(func, name, depends_on, args, kwargs, priority=priority, max_attempts=max_attempts,
                            timeout_seconds=timeout_seconds, dependency_mode=dependency_mode, queue=queue,
                            delay_seconds=delay_seconds)

    def __enter__(self) -> "DAG":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.submit()

    # -- validation and submission ---------------------------------------------------------------
    def _resolve(self) -> tuple[dict[str, list[str]], list[str]]:
        """Parents of each node as job ids, and the external job ids referenced."""
        problems = []
        if self._duplicates:
            problems.append("duplicate task name(s): " + ", ".join(sorted(set(self._duplicates))))
        resolved: dict[str, list[str]] = {}
        external: list[str] = []
        for name in self._names_in_order:
            node = self._nodes[name]
            ids = []
            for dep in node.depends_on:
                if dep == name or dep == node.job_id:
                    problems.append(f"task {name!r} depends on itself")
                    continue
                if dep in self._nodes:
                    ids.append(self._nodes[dep].job_id)
                elif dep in self._by_id:
                    ids.append(dep)
                else:
                    ids.append(dep)
                    external.append(dep)
            if len(set(ids)) != len(ids):
                problems.append(f"task {name!r} lists the same dependency twice")
            resolved[name] = ids
        if external:
            known = self.queue._live_store().existing(external)
            for name in self._names_in_order:
                for dep in self._nodes[name].depends_on:
                    if dep in external and dep not in known:
                        names = ", ".join(self._names_in_order) or "none"
                        problems.append(
                            f"task {name!r} depends on {dep!r}, which is neither a task of DAG {self.name!r} "
                            f"(its tasks: {names}) nor the id of a job in the queue"
                        )
        if problems:
            raise DAGValidationError(f"DAG {self.name!r} was not submitted: " + "; ".join(problems))
        return resolved, external

    def _topological(self, resolved: dict[str, list[str]]) -> list[str]:
        """Kahn's algorithm, in the order tasks were added where there is a choice. A cycle is
        reported with the path of names."""
        id_to_name = {node.job_id: n for n, node in self._nodes.items()}
        indegree = {n: 0 for n in self._names_in_order}
        children: dict[str, list[str]] = {n: [] for n in self._names_in_order}
        for name, ids in resolved.items():
            for pid in ids:
                parent = id_to_name.get(pid)
                if parent is not None:
                    indegree[name] += 1
                    children[parent].append(name)
        position = {n: i for i, n in enumerate(self._names_in_order)}
        ready = [(position[n], n) for n in self._names_in_order if indegree[n] == 0]  # already a heap
        order = []
        while ready:
            _, name = heapq.heappop(ready)
            order.append(name)
            for child in children[name]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    heapq.heappush(ready, (position[child], child))
        if len(order) != len(self._names_in_order):
            cycle = self._find_cycle({n for n, d in indegree.items() if d > 0}, resolved, id_to_name)
            raise DAGValidationError(f"DAG {self.name!r} was not submitted: it has a cycle: {' -> '.join(cycle)}")
        return order

    @staticmethod
    def _find_cycle(stuck: set[str], resolved, id_to_name) -> list[str]:
        # walk parent links inside the stuck set until a name repeats
        start = min(stuck)
        path, seen = [start], {start: 0}
        current = start
        while True:
            parent = next(id_to_name[p] for p in resolved[current] if id_to_name.get(p) in stuck)
            if parent in seen:
                cycle = path[seen[parent]:] + [parent]
                return list(reversed(cycle))
            seen[parent] = len(path)
            path.append(parent)
            current = parent

    def validate(self) -> list[str]:
        """Raise DAGValidationError if the DAG cannot be submitted. Returns the warnings, a list as
        in queuack 0.1: always empty, since whatever would not run is an error."""
        resolved, _ = self._resolve()
        self._topological(resolved)
        return []

    def submit(self) -> str:
        """Validate and store every job in one transaction. Returns the dag_run_id; a second call does nothing."""
        with self._lock:
            if self._submitted:
                return self.dag_run_id
            resolved, _ = self._resolve()
            order = self._topological(resolved)
            jobs = []
            for name in order:
                job = self._nodes[name].job
                job.parents, job.node_name, job.dag_run_id = tuple(resolved[name]), name, self.dag_run_id
                jobs.append(job)
            self.queue._live_store().insert(jobs, dag_run=(self.dag_run_id, self.name))
            self._submitted = True
            log.info("submitted DAG %r (run %s): %d jobs", self.name, self.dag_run_id, len(jobs))
            return self.dag_run_id

    @property
    def submitted(self) -> bool:
        return self._submitted

    # -- running and watching ---------------------------------------------------------------------
    @property
    def jobs(self) -> dict[str, str]:
        """{task name: job id}, in the order the tasks were added."""
        return {n: self._nodes[n].job_id for n in self._names_in_order}

    def get_job(self, name: str) -> Job:
        """The current record of a task, by name (or by job id)."""
        if name in self._nodes:
            return self.queue.get_job(self._nodes[name].job_id)
        if name in self._by_id:
            return self.queue.get_job(name)
        raise KeyError(f"DAG {self.name!r} has no task {name!r}; its tasks: {', '.join(self._names_in_order)}")

    def get_result(self, name: str) -> Any:
        """A task's return value, by name (or by job id)."""
        if name in self._nodes:
            return self.queue.get_result(self._nodes[name].job_id)
        if name in self._by_id:
            return self.queue.get_result(name)
        raise KeyError(f"DAG {self.name!r} has no task {name!r}; its tasks: {', '.join(self._names_in_order)}")

    @property
    def run(self) -> "DAGRun":
        """This DAG's run in the queue (after submit())."""
        if not self._submitted:
            raise DAGNotSubmittedError(f"DAG {self.name!r} has no run yet: call dag.submit() first")
        return DAGRun(self.queue, self.dag_run_id)

    @property
    def status(self) -> DAGStatus:
        """Always current: read from the queue on every access."""
        return self.run.status if self._submitted else DAGStatus.PENDING

    def update_status(self) -> None:
        """Kept for queuack 0.1 code: `status` is computed from the jobs on every read."""

    def get_execution_order(self) -> list[list[str]]:
        """Task names in levels: each level's tasks depend only on tasks of earlier levels, so the
        tasks of one level can run in parallel. Raises DAGValidationError where submit() would."""
        resolved, _ = self._resolve()
        level: dict[str, int] = {}
        for name in self._topological(resolved):
            parents = [self._by_id[pid] for pid in resolved[name] if pid in self._by_id]
            level[name] = 1 + max((level[p] for p in parents), default=-1)
        levels: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
        for name in self._names_in_order:
            levels[level[name]].append(name)
        return levels

    def _unfinished(self) -> int:
        return self.queue._live_store().unfinished(n.job_id for n in self._nodes.values())

    def execute(self, *positional, timeout: float | None = None, concurrency: int = 1, poll_interval: float = 1.0,
                show_progress: bool = False, progress: bool = False) -> bool:
        """Submit if needed, then run this DAG's jobs (and only them) here until all have finished
        or `timeout` seconds have passed. True when every job is done.

        Options are keyword-only: queuack 0.1 read a first positional number as poll_interval, this
        project as timeout, so a bare number is refused rather than misread.

        With a timeout the jobs run on a thread of their own, so that a task that overruns cannot
        hold this call past the deadline: a job still running then finishes in the background (its
        outcome is recorded), and nothing further starts.

        progress=True draws a live progress bar on stderr (rich); show_progress=True prints a
        progress line every 5 seconds and a summary at the end, as queuack 0.1 did."""
        from .worker import Worker

        if positional:
            raise TypeError(
                f"DAG.execute() takes keyword arguments only, not {positional!r}: queuack 0.1 read a first "
                "positional number as poll_interval; write execute(timeout=...) or execute(poll_interval=...)")
        self.submit()
        worker = Worker(self.queue, concurrency=concurrency, only=self.jobs.values())
        halt = threading.Event()
        finished = threading.Event()
        if show_progress:
            threading.Thread(target=self._print_progress, args=(finished,), daemon=True,
                             name=f"queuack-dag-{self.name}-progress").start()
        bar = nullcontext()
        if progress:
            from .progress import DagProgress

            bar = DagProgress(self)
        with bar:
            self._execute_with(worker, halt, finished, timeout, poll_interval)
        if show_progress:
            p = self.progress
            print(f"Complete: {p['done']}/{len(self._nodes)} succeeded, {p['failed']} failed, "
                  f"{p['skipped']} skipped")
        return self.status is DAGStatus.DONE

    def _execute_with(self, worker, halt: threading.Event, finished: threading.Event, timeout: float | None,
                      poll_interval: float) -> None:
        try:
            if timeout is None:
                self._drive(worker, halt, poll_interval)
            else:
                failure: list[BaseException] = []

                def drive() -> None:
                    try:
                        self._drive(worker, halt, poll_interval)
                    except BaseException as exc:  # raised again in the caller's thread
                        failure.append(exc)

                runner = threading.Thread(target=drive, name=f"queuack-dag-{self.name}", daemon=True)
                runner.start()
                try:
                    runner.join(timeout)
                finally:
                    if runner.is_alive():
                        halt.set()
                        worker.only = set()  # claims nothing more, even if a new run() has cleared stop()
                        worker.stop()
                if failure:
                    raise failure[0]
        finally:
            finished.set()

    def _print_progress(self, finished: threading.Event, every: float = 5.0) -> None:
        while not finished.wait(every):
            done = self.progress["done"]
            total = len(self._nodes)
            print(f"Progress: {done}/{total} jobs complete ({100 * done / max(total, 1):.0f}%)")

    def _drive(self, worker, halt: threading.Event, poll_interval: float) -> None:
        store = self.queue._live_store()
        while self._unfinished() and not halt.is_set():
            worker.run(burst=True)
            if halt.is_set() or worker.stopping or not self._unfinished():  # stopping: SIGINT/SIGTERM
                break
            # waiting for a retry's backoff or for a parent that another worker runs
            wake = store.next_wakeup()
            wait = poll_interval if wake is None else max(0.0, min(poll_interval, wake - time.time()))
            store.wait_for_work(wait)

    def wait_for_completion(self, timeout: float | None = None, poll_interval: float = 0.1,
                            callback: Callable[[dict[str, int]], Any] | None = None) -> bool:
        """Wait while workers run the DAG. True when every job is done; False on failure or timeout.
        callback (as in queuack 0.1) is called with `progress` on every poll and once at the end.

        A DAG built without a queue owns a private in-memory one that no worker outside can reach:
        the jobs of any DAG on such a queue run here, on a worker thread of this DAG, while this
        call waits."""
        if not self._submitted:
            raise DAGNotSubmittedError(
                f"DAG {self.name!r} was not submitted, so there is nothing to wait for: call "
                "dag.submit() first (leaving a `with DAG(...)` block submits it), or dag.execute() "
                "to submit and run it here")
        deadline = None if timeout is None else time.monotonic() + timeout
        store = self.queue._live_store()
        halt = threading.Event()
        own_worker = self._start_own_worker(halt, poll_interval) if self.queue.owned_by_dag else None
        try:
            while self._unfinished():
                self._report(callback)
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                wait = poll_interval if deadline is None else min(poll_interval, max(0.0, deadline - time.monotonic()))
                store.wait_for_work(wait)
        finally:
            if own_worker is not None:  # a job still running finishes in the background
                halt.set()
                own_worker.stop()
        self._report(callback)
        return self.status is DAGStatus.DONE

    def _start_own_worker(self, halt: threading.Event, poll_interval: float):
        from .worker import Worker

        worker = Worker(self.queue)  # every job of the private queue: an external parent too
        threading.Thread(target=self._drive, args=(worker, halt, poll_interval), daemon=True,
                         name=f"queuack-dag-{self.name}").start()
        return worker

    def _report(self, callback) -> None:
        if callback is not None:
            try:
                callback(self.progress)
            except Exception:  # a progress display must not break the wait
                log.warning("DAG %r: progress callback failed", self.name, exc_info=True)

    @property
    def progress(self) -> dict[str, int]:
        """Job counts of this DAG by status: pending, claimed, done, failed, skipped."""
        if self._submitted:
            return self.run.progress
        return {"pending": len(self._nodes), "claimed": 0, "done": 0, "failed": 0, "skipped": 0}

    def is_complete(self) -> bool:
        """True once every job has finished (done, failed or skipped)."""
        return self._submitted and not self._unfinished()

    def get_jobs(self) -> list[dict[str, Any]]:
        """id, name, status, created_at and completed_at of each task, in the order they were added."""
        if not self._submitted:
            return [{"id": job_id, "name": name, "status": "pending", "created_at": None, "completed_at": None}
                    for name, job_id in self.jobs.items()]
        rows = {row["id"]: row for row in self.run.get_jobs()}
        return [rows[job_id] for job_id in self.jobs.values()]

    def export_mermaid(self, include_subdags: bool = True, max_depth: int = 3,
                       color_scheme: "MermaidColorScheme | None" = None) -> str:
        """A Mermaid flowchart: one node per task, labelled with its name and status, coloured by
        `color_scheme` (a MermaidColorScheme; None: the default). A sub-DAG node that has run is
        drawn as a box holding its DAG, nested down to max_depth levels (include_subdags=False:
        as one node)."""
        from .mermaid import render
        from .subdag import SubDAG, graph_of_run

        store = self.queue._live_store()
        statuses = {}
        if self._submitted:
            statuses = {node_id: status for node_id, _, status in store.dag_nodes(self.dag_run_id)}
        edges = []
        for name in self._names_in_order:
            for dep in self._nodes[name].depends_on:
                parent = dep if dep in self._nodes else self._by_id.get(dep)
                if parent is not None:
                    edges.append((parent, name))
        nodes = [(n, statuses.get(self._nodes[n].job_id, "pending")) for n in self._names_in_order]
        kinds = {n: "subdag" if isinstance(node.func, SubDAG) else "streaming"
                 for n, node in self._nodes.items()
                 if isinstance(node.func, SubDAG) or hasattr(node.func, "stream_format")}
        subgraphs = {}
        if include_subdags and max_depth > 0 and self._submitted:
            ids = [self._nodes[n].job_id for n in kinds if kinds[n] == "subdag"]
            for job_id, sub_run in (store.subdag_runs(ids) if ids else {}).items():
                subgraphs[self._by_id[job_id]] = graph_of_run(store, sub_run, max_depth - 1)
        return render(nodes, edges, scheme=color_scheme, subgraphs=subgraphs, kinds=kinds)

    def cancel(self) -> int:
        """Cancel this DAG's run: jobs that have not started are skipped (with what depends on them),
        running ones finish. The status becomes CANCELLED. Returns how many jobs were skipped."""
        return self.run.cancel()

    def close(self) -> None:
        """Close the private queue of a DAG built without one."""
        if self._owns_queue:
            self.queue.close()


class DAGContext(DAG):
    """queuack 0.1's name for the builder that `q.dag(name)` returns, whose constructor takes the
    queue first: `DAGContext(q, "etl")`. It is a DAG; `dag.enqueue` is `add_job`."""

    def __init__(self, queue: DuckQueue, name: str, description: str | None = None,
                 validate_on_exit: bool = True, fail_fast: bool = True):
        super().__init__(name, queue=queue, description=description, validate=validate_on_exit,
                         fail_fast=fail_fast)


class DAGRun:
    """One submitted run of a DAG, found by its id: status and progress, read from the queue on
    every access. `dag.run` is the run of a DAG object; DAGRun(queue, dag_run_id) finds one from
    anywhere that has the queue (a monitoring script, a task through its context)."""

    def __init__(self, queue: DuckQueue, dag_run_id: str):
        self.queue = queue
        self.dag_run_id = dag_run_id

    def __repr__(self) -> str:
        return f"DAGRun({self.dag_run_id!r})"

    def _record(self) -> tuple[str, str | None, bool]:
        record = self.queue._live_store().dag_run(self.dag_run_id)
        if record is None:
            raise DAGRunNotFoundError(self.dag_run_id)
        return record

    @property
    def name(self) -> str:
        return self._record()[0]

    def get_parent_job(self) -> str | None:
        """The id of the job that ran this run as its sub-DAG; None for a top-level run."""
        return self._record()[1]

    def get_subdags(self) -> list["DAGRun"]:
        """The runs that this run's jobs started as sub-DAGs, in the order of those jobs."""
        store = self.queue._live_store()
        ids = [job_id for job_id, _, _ in store.dag_nodes(self.dag_run_id)]
        runs = store.subdag_runs(ids) if ids else {}
        return [DAGRun(self.queue, runs[i]) for i in ids if i in runs]

    def get_hierarchy(self) -> dict[str, Any]:
        """{"dag_run_id", "name", "status", "subdags": [the same for each sub-DAG run]}."""
        return {"dag_run_id": self.dag_run_id, "name": self.name, "status": self.status.value,
                "subdags": [sub.get_hierarchy() for sub in self.get_subdags()]}

    def cancel(self) -> int:
        """Skip the run's jobs that have not started (and what depends on them); running ones
        finish. The status becomes CANCELLED. Returns how many jobs were skipped."""
        self._record()
        return self.queue._live_store().cancel_run(self.dag_run_id)

    @property
    def progress(self) -> dict[str, int]:
        """Job counts by status: pending, claimed, done, failed, skipped."""
        counts = {"pending": 0, "claimed": 0, "done": 0, "failed": 0, "skipped": 0}
        counts.update(self.queue._live_store().dag_counts(self.dag_run_id))
        return counts

    def get_progress(self) -> dict[str, int]:
        return self.progress

    @property
    def status(self) -> DAGStatus:
        store = self.queue._live_store()
        counts = self.progress
        if not any(counts.values()) or counts["pending"] or counts["skipped"]:
            if self._record()[2]:  # an unknown id raises; a run without jobs is done
                return DAGStatus.CANCELLED
        unfinished = counts["pending"] + counts["claimed"]
        if unfinished:
            started = sum(counts.values()) - counts["pending"]
            if not started:  # a job waiting for its retry has started too
                started = store.dag_started(self.dag_run_id)
            return DAGStatus.RUNNING if started else DAGStatus.PENDING
        return DAGStatus.DONE if counts["done"] == sum(counts.values()) else DAGStatus.FAILED

    def get_status(self) -> DAGStatus:
        return self.status

    def is_complete(self) -> bool:
        """True once every job has finished (done, failed or skipped)."""
        counts = self.progress
        return counts["pending"] + counts["claimed"] == 0

    def update_status(self) -> None:
        """Kept for queuack 0.1 code: `status` is computed from the jobs on every read."""

    def get_jobs(self) -> list[dict[str, Any]]:
        """id, name, status, created_at and completed_at of each job, in submission order."""
        store = self.queue._live_store()
        nodes = store.dag_nodes(self.dag_run_id)
        jobs = {j.id: j for j in store.get_jobs([i for i, _, _ in nodes])}
        return [{"id": i, "name": name, "status": status, "created_at": jobs[i].created_at,
                 "completed_at": jobs[i].completed_at} for i, name, status in nodes]
