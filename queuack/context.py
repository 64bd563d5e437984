"""TaskContext: what a running task knows about itself and its parents.

A task asks for it by declaring a parameter named `context` or `ctx` (or one annotated
TaskContext). Helpers it calls reach the same object through get_context().
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from typing import Any, Callable, Mapping, Sequence

from .errors import UpstreamError
from .serialization import TRUSTING

_current: contextvars.ContextVar["TaskContext | None"] = contextvars.ContextVar("queuack_task_context", default=None)
_MISSING = object()


def get_context() -> "TaskContext | None":
    """The context of the task running in this thread or asyncio task, or None outside a task."""
    return _current.get()


def set_context(context: "TaskContext | None") -> contextvars.Token:
    """Make `context` current; returns a token for reset_context(). Runners call this; tasks rarely need to."""
    return _current.set(context)


def reset_context(token: contextvars.Token) -> None:
    _current.reset(token)


class _Parent:
    __slots__ = ("job_id", "name", "value", "status", "error", "loaded")

    def __init__(self, job_id: str | None, name: str | None):
        self.job_id = job_id
        self.name = name
        self.loaded = False
        self.value: Any = None
        self.status: str | None = None
        self.error: str | None = None


class TaskContext:
    """The running task's identity and its parents' results, by name.

    Results load lazily: the first time a result is asked for, once per parent; names and ids
    come from the job's own dependency rows (one query per job at most, none when the Worker
    fetched them with the claim).

    To unit-test a task without a queue, call it with TaskContext.for_testing({"extract": ...}).
    """

    def __init__(
        self,
        job_id: str | None = None,
        dag_run_id: str | None = None,
        task_name: str | None = None,
        attempt: int = 1,
        *,
        store: Any = None,
        parents: list[tuple[str, str | None]] | None = None,
        upstream: Mapping[str, Any] | None = None,
        loader: Any = None,
        queue_path: str | None = None,
    ):
        self.job_id = job_id
        self._queue_path = queue_path  # queuack 0.1 built contexts from a path: the queue opens on first use
        self.dag_run_id = dag_run_id
        self.task_name = task_name
        self.attempt = attempt
        self._store = store
        self._loader = loader or TRUSTING  # what the running job's queue accepts (serialization.Loader)
        self._queue_handle = None  # see the queue property
        self._parents: list[_Parent] | None = None
        if parents is not None:
            self._parents = [_Parent(pid, name) for pid, name in parents]
        if upstream is not None:
            self._parents = []
            for name, value in upstream.items():
                parent = _Parent(f"upstream:{name}", name)
                parent.value, parent.status, parent.loaded = value, "done", True
                self._parents.append(parent)

    @classmethod
    def for_testing(
        cls,
        upstream: Mapping[str, Any] | None = None,
        *,
        task_name: str = "task",
        job_id: str = "test-job",
        dag_run_id: str = "test-run",
        attempt: int = 1,
    ) -> "TaskContext":
        """A context for calling a task directly in a unit test, without a queue:

            ctx = TaskContext.for_testing({"extract": [1, 2, 3]})
            assert transform(context=ctx) == [2, 4, 6]
        """
        return cls(job_id, dag_run_id, task_name, attempt, upstream=dict(upstream or {}))

    def __repr__(self) -> str:
        return f"TaskContext(task_name={self.task_name!r}, job_id={self.job_id!r}, dag_run_id={self.dag_run_id!r})"

    # -- parents ----------------------------------------------------------------------------
    def _parent_list(self) -> list[_Parent]:
        if self._parents is None:
            if self._store is None or self.job_id is None:
                self._parents = []
            else:
                rows = self._store.parents([self.job_id])[self.job_id]
                self._parents = [_Parent(pid, name) for pid, name in rows]
        return self._parents

    def _load(self, parents: list[_Parent]) -> None:
        todo = [p for p in parents if not p.loaded]
        if not todo:
            return
        rows = self._store.results([p.job_id for p in todo])
        for p in todo:
            status, codec, blob, error = rows.get(p.job_id, ("missing", None, None, None))
            p.status, p.error, p.loaded = status, error, True
            if status == "done":
                p.value = self._loader.value(blob, codec, f"the result of upstream job {p.job_id}")

    def _by_name(self, name: str) -> _Parent | None:
        for parent in self._parent_list():
            if parent.name == name:
                return parent
        return None

    def _value(self, parent: _Parent, label: str) -> Any:
        self._load([parent])
        if parent.status == "done":
            return parent.value
        if parent.status in ("failed", "skipped"):
            reason = f": {parent.error}" if parent.error else ""
            raise UpstreamError(f"upstream {label} of task {self.task_name!r} {parent.status}{reason}")
        raise UpstreamError(f"upstream {label} of task {self.task_name!r} has not finished (status {parent.status})")

    def _need_dag(self, what: str) -> None:
        if self.dag_run_id is None and not self._parent_list():
            raise UpstreamError(
                f"{what} needs a DAG run: job {self.job_id} was enqueued on its own, so it has no "
                "named parents. Build it with DAG(...).add_job(..., depends_on=...) to read upstream results."
            )

    def upstream(self, name: str) -> Any:
        """The result of the parent task called `name`."""
        self._need_dag(f"upstream({name!r})")
        parent = self._by_name(name)
        if parent is None:
            names = ", ".join(repr(n) for n in self.get_parent_names()) or "none"
            raise UpstreamError(
                f"task {self.task_name!r} has no upstream named {name!r}; its upstream tasks are: {names}. "
                "Add it to depends_on, or use upstream_or() for an optional parent."
            )
        return self._value(parent, repr(name))

    def upstream_or(self, name: str, default: Any = None) -> Any:
        """The named parent's result, or `default` when there is no such parent or it did not succeed."""
        parent = self._by_name(name)
        if parent is None:
            return default
        self._load([parent])
        return parent.value if parent.status == "done" else default

    def has_upstream(self, name: str) -> bool:
        """Whether a parent with this name exists and succeeded, so that upstream(name) returns its
        result (a parent that failed under dependency_mode="any" does not count). Its status is
        read; its result is not decoded."""
        parent = self._by_name(name)
        if parent is None:
            return False
        if parent.status is None:
            if self._store is None:
                return True  # parents named without a queue: nothing more to know
            unknown = [p for p in self._parent_list() if p.status is None]
            statuses = self._store.statuses([p.job_id for p in unknown])  # every parent's, in one read
            for p in unknown:
                p.status = statuses.get(p.job_id, "missing")
        return parent.status == "done"

    def get_parent_names(self) -> list[str]:
        """Parent task names, in the order depends_on declared them."""
        return [p.name if p.name is not None else p.job_id for p in self._parent_list()]

    def get_parent_results(self) -> list[Any]:
        """Every parent's result, in the order depends_on declared them."""
        parents = self._parent_list()
        self._load(parents)
        return [self._value(p, repr(p.name or p.job_id)) for p in parents]

    def get_parent_result(self, job_id: str) -> Any:
        """One parent's result, by job id."""
        for parent in self._parent_list():
            if parent.job_id == job_id:
                return self._value(parent, job_id)
        ids = ", ".join(p.job_id for p in self._parent_list()) or "none"
        raise UpstreamError(f"job {job_id} is not a parent of task {self.task_name!r}; its parents are: {ids}")

    # -- queuack 0.1 helpers ---------------------------------------------------------------------
    def upstream_all(self) -> dict[str, Any]:
        """{parent name: result} for every parent; UpstreamError if one did not succeed."""
        parents = self._parent_list()
        self._load(parents)
        return {p.name or p.job_id: self._value(p, repr(p.name or p.job_id)) for p in parents}

    def upstream_completed(self) -> dict[str, Any]:
        """{parent name: result} for the parents that succeeded (for dependency_mode="any")."""
        parents = self._parent_list()
        self._load(parents)
        return {p.name or p.job_id: p.value for p in parents if p.status == "done"}

    def upstream_any(self) -> Any:
        """The result of the first parent, in declaration order, that succeeded."""
        completed = self.upstream_completed()
        if not completed:
            names = ", ".join(repr(n) for n in self.get_parent_names()) or "none"
            raise UpstreamError(
                f"no upstream task of {self.task_name!r} has succeeded; its upstream tasks are: {names}"
            )
        return next(iter(completed.values()))

    def has_upstream_any(self, *names: str) -> bool:
        """Whether any of these names is a parent (no result is loaded)."""
        return any(self.has_upstream(name) for name in names)

    def close(self) -> None:
        """Close the queue handle this context lent to the task, if any. The worker's own queue is
        never closed: that handle is a separate one."""
        self._release()

    def __enter__(self) -> "TaskContext":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def queue(self):
        """A DuckQueue handle on the running job's database, valid while the task runs. It is a
        handle of its own: closing it leaves the worker's queue working, and the runner closes it
        when the job ends."""
        handle = self._queue_handle
        if handle is None or handle.closed:
            from .queue import DuckQueue

            opener = getattr(self._store, "open_queue", None)  # a process-pool child: see processes.py
            if opener is not None:
                handle = opener(self._loader)
            elif self._store is not None:
                handle = DuckQueue.attach(self._store, loader=self._loader)
            elif self._queue_path is not None:
                handle = DuckQueue(self._queue_path)
            else:
                return None
            self._queue_handle = handle
        return handle

    def _release(self) -> None:
        """Close the queue handle lent to the task, if it asked for one (called when the job ends)."""
        handle = self._queue_handle
        if handle is not None:
            self._queue_handle = None
            handle.close()

    @property
    def queue_path(self) -> str | None:
        return self._queue_path if self._store is None else self._store.path


# -- injection ----------------------------------------------------------------------------------

_NAMES = ("context", "ctx")


@functools.lru_cache(maxsize=4096)
def _injection_point(func: Callable) -> tuple[str, int | None, bool, tuple | None, int | None] | None:
    """Where a function wants its context, or None: (parameter name, position (None for a
    keyword-only parameter), positional-only, defaults of the parameters before a positional-only
    context (inspect.Parameter.empty where one has none), how many positional arguments the
    function takes (None: any number, it has *args)). Looked up once per function."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    params = list(signature.parameters.values())
    capacity = None if any(p.kind is p.VAR_POSITIONAL for p in params) else sum(
        1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    position = 0
    leading: list = []
    for param in params:
        annotation = param.annotation
        wants = param.name in _NAMES or annotation is TaskContext or (
            isinstance(annotation, str) and annotation.rsplit(".", 1)[-1] == "TaskContext"
        )
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            if wants:
                return None
            continue
        if wants:
            if param.kind is param.KEYWORD_ONLY:
                return param.name, None, False, None, capacity
            positional_only = param.kind is param.POSITIONAL_ONLY
            return param.name, position, positional_only, tuple(leading) if positional_only else None, capacity
        if param.kind is not param.KEYWORD_ONLY:
            position += 1
            leading.append(param.default)
    return None


def shifts_arguments(point, args: Sequence) -> bool:
    """True when positional arguments reach the context's own slot but are meant for the parameters
    around it: the value there is not a TaskContext, and the function has room for one more
    positional argument. `def task(context, x)` enqueued with args=(5,) then runs as task(ctx, 5)."""
    if point is None or point[1] is None or len(args) <= point[1]:
        return False
    capacity = point[4]
    return not isinstance(args[point[1]], TaskContext) and (capacity is None or len(args) < capacity)


def wants_context(func: Callable) -> bool:
    return _point(func) is not None


def _point(func: Callable) -> tuple[str, int | None, bool, tuple | None, int | None] | None:
    try:
        return _injection_point(func)
    except TypeError:  # unhashable callable
        return _injection_point.__wrapped__(func)


def inject(func: Callable, args: tuple, kwargs: dict, context_factory: Callable[[], TaskContext]) -> tuple[tuple, dict, TaskContext | None]:
    """Add the context to the call where the function asks for it and the caller did not pass one."""
    point = _point(func)
    if point is None:
        return args, kwargs, None
    name, position, positional_only, defaults, _ = point
    if shifts_arguments(point, args) and name not in kwargs:
        context = context_factory()
        return (*args[:position], context, *args[position:]), kwargs, context
    if name in kwargs or (position is not None and len(args) > position):
        return args, kwargs, None  # passed explicitly: the caller wins
    context = context_factory()
    if positional_only:
        if len(args) < position:  # the parameters the caller left out keep their defaults
            missing = defaults[len(args):]
            if any(d is inspect.Parameter.empty for d in missing):
                return args, kwargs, None  # cannot place it without shifting the caller's arguments
            args = (*args, *missing)
        return (*args, context), kwargs, context
    return args, {**kwargs, name: context}, context
