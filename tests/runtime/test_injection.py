"""Context injection: which functions receive a TaskContext, where it goes in the call, who wins
when the caller passed one, and that it works from a Worker, dag.execute and job.execute()."""

import functools
import inspect

import pytest

import queuack
from queuack import DAG, DuckQueue, TaskContext, Worker
from queuack.context import _injection_point, inject, wants_context

from .conftest import location


# -- task shapes --------------------------------------------------------------------------------------


def named_context(context):
    return type(context).__name__, context.task_name


def named_ctx(ctx):
    return type(ctx).__name__, ctx.task_name


def with_args_first(x, y, context):
    return x + y, context.upstream_or("parent")


def keyword_only(x, *, context):
    return x, context.upstream_or("parent")


def keyword_only_after_varargs(*values, context):
    return sum(values), context.upstream_or("parent")


def positional_only(x, context, /):
    return x, context.upstream_or("parent")


def positional_only_alone(ctx, /):
    return ctx.upstream_or("parent")


def positional_only_with_defaults(x, y=10, context=None, /):
    return x + y, None if context is None else context.upstream_or("parent")


def with_default(x, context=None):
    return x, None if context is None else context.upstream_or("parent")


def annotated(x, state: TaskContext):
    return x, state.upstream_or("parent")


def annotated_string(x, state: "TaskContext"):
    return x, state.upstream_or("parent")


def annotated_qualified(x, state: "queuack.TaskContext"):
    return x, state.upstream_or("parent")


def logged(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return ("logged", func(*args, **kwargs))

    return wrapper


@logged
def decorated(x, context):
    return x, context.upstream_or("parent")


def plain(x, y=2):
    return x * y


def plain_kwargs(*args, **kwargs):
    return args, kwargs


def context_in_kwargs_only(**kwargs):
    return sorted(kwargs)


def explicit(x, context="default"):
    return x, context if isinstance(context, str) else "injected"


def context_first(context, x, y=0):
    return x, y, isinstance(context, TaskContext)


def explicit_ctx_kwonly(*, ctx="default"):
    return ctx if isinstance(ctx, str) else "injected"


class Callable:
    def __call__(self, x, context):
        return x, context.upstream_or("parent")


callable_instance = Callable()


class Holder:
    def method(self, x, context):
        return x, context.upstream_or("parent")

    @staticmethod
    def static(x, ctx):
        return x, ctx.upstream_or("parent")


holder = Holder()


def partial_target(a, b, context):
    return a + b, context.upstream_or("parent")


def parent():
    return "P"


CASES = [
    (named_context, (), None, ("TaskContext", "t")),
    (named_ctx, (), None, ("TaskContext", "t")),
    (with_args_first, (1, 2), None, (3, "P")),
    (keyword_only, (1,), None, (1, "P")),
    (keyword_only_after_varargs, (1, 2, 3), None, (6, "P")),
    (positional_only, (7,), None, (7, "P")),
    (positional_only_alone, (), None, "P"),
    (with_default, (1,), None, (1, "P")),
    (annotated, (1,), None, (1, "P")),
    (annotated_string, (1,), None, (1, "P")),
    (annotated_qualified, (1,), None, (1, "P")),
    (decorated, (5,), None, ("logged", (5, "P"))),
    (callable_instance, (3,), None, (3, "P")),
    (functools.partial(partial_target, 1), (2,), None, (3, "P")),
    (holder.method, (4,), None, (4, "P")),
    (Holder.static, (5,), None, (5, "P")),
    (plain, (3,), None, 6),
    (plain, (3,), {"y": 3}, 9),
    (plain_kwargs, (1,), {"a": 2}, ((1,), {"a": 2})),
    (context_in_kwargs_only, (), {"z": 1}, ["z"]),
]

IDS = [getattr(f, "__name__", type(f).__name__) for f, *_ in CASES]


def _dag_with(queue, func, args, kwargs):
    dag = DAG("inject", queue=queue)
    dag.add_job(parent, name="parent")
    dag.add_job(func, name="t", args=args, kwargs=kwargs, depends_on="parent", max_attempts=1)
    return dag


@pytest.fixture(params=["memory", "postgres"])
def mq(request, tmp_path):
    """A queue in memory, and the same on PostgreSQL (conftest.py's server)."""
    queue = DuckQueue(location(request, request.param, tmp_path))
    yield queue
    queue.close()


@pytest.mark.parametrize("func, args, kwargs, expected", CASES, ids=IDS)
def test_injection_from_dag_execute(mq, func, args, kwargs, expected):
    dag = _dag_with(mq, func, args, kwargs)
    assert dag.execute(timeout=20), dag.get_job("t").error
    assert dag.get_result("t") == expected


@pytest.mark.parametrize("func, args, kwargs, expected", CASES, ids=IDS)
def test_injection_from_a_worker(tmp_path, func, args, kwargs, expected):
    queue = DuckQueue(str(tmp_path / "w.duckdb"))
    dag = _dag_with(queue, func, args, kwargs)
    dag.submit()
    Worker(queue, concurrency=2).run(burst=True)
    assert dag.get_job("t").error is None
    assert dag.get_result("t") == expected
    queue.close()


@pytest.mark.parametrize("func, args, kwargs, expected", CASES, ids=IDS)
def test_injection_from_job_execute(mq, func, args, kwargs, expected):
    dag = _dag_with(mq, func, args, kwargs)
    dag.submit()
    Worker(mq, only=[dag.jobs["parent"]]).run(burst=True)
    assert dag.get_job("t").execute() == expected
    # job.execute() does not change the job's state
    assert dag.get_job("t").status == "pending"


def test_plain_job_outside_a_dag_gets_a_context(mq):
    job_id = mq.enqueue(named_context)
    Worker(mq).run(burst=True)
    assert mq.get_result(job_id) == ("TaskContext", None)
    assert mq.get_job(job_id).execute() == ("TaskContext", None)


def test_positional_only_after_defaulted_parameters(mq):
    # the caller passed only x: y keeps its default and the context still arrives
    dag = _dag_with(mq, positional_only_with_defaults, (1,), None)
    assert dag.execute(timeout=20)
    assert dag.get_result("t") == (11, "P")


# -- the caller wins -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "func, args, kwargs, expected",
    [
        (explicit, (1,), {"context": "mine"}, (1, "mine")),
        (explicit, (1, "positional"), None, (1, "positional")),
        (explicit, (1,), None, (1, "injected")),
        (explicit_ctx_kwonly, (), {"ctx": "mine"}, "mine"),
        (explicit_ctx_kwonly, (), None, "injected"),
    ],
)
def test_a_value_passed_by_the_caller_wins(mq, func, args, kwargs, expected):
    job_id = mq.enqueue(func, args=args, kwargs=kwargs)
    Worker(mq).run(burst=True)
    assert mq.get_result(job_id) == expected
    assert mq.get_job(job_id).execute() == expected


@pytest.mark.parametrize(
    "args, kwargs, expected",
    [
        ((5,), None, (5, 0, True)),  # the arguments fill the parameters around the context
        ((5, 6), None, (5, 6, True)),
        ((), {"x": 5}, (5, 0, True)),
        ((5,), {"y": 6}, (5, 6, True)),
    ],
)
def test_positional_arguments_skip_a_leading_context_parameter(mq, args, kwargs, expected):
    job_id = mq.enqueue(context_first, args=args, kwargs=kwargs)
    Worker(mq).run(burst=True)
    assert mq.get_result(job_id) == expected
    assert mq.get_job(job_id).execute() == expected


def test_a_task_context_passed_in_the_context_slot_is_the_callers():
    mine = TaskContext.for_testing({"extract": 1})
    assert inject(context_first, (mine, 5), {}, TaskContext)[:2] == ((mine, 5), {})


def test_arguments_that_fill_every_slot_include_the_callers_context(mq):
    job_id = mq.enqueue(context_first, args=("mine", 2, 3))
    Worker(mq).run(burst=True)
    assert mq.get_result(job_id) == (2, 3, False)


# -- detection -------------------------------------------------------------------------------------


def test_detection_for_each_parameter_kind():
    assert _injection_point(named_context)[:3] == ("context", 0, False)
    assert _injection_point(named_ctx)[:3] == ("ctx", 0, False)
    assert _injection_point(with_args_first)[:3] == ("context", 2, False)
    assert _injection_point(keyword_only)[:3] == ("context", None, False)
    assert _injection_point(keyword_only_after_varargs)[:3] == ("context", None, False)
    assert _injection_point(positional_only)[:3] == ("context", 1, True)
    assert _injection_point(positional_only_with_defaults)[:4] == ("context", 2, True, (inspect.Parameter.empty, 10))
    assert _injection_point(annotated)[0] == "state"
    assert _injection_point(annotated_string)[0] == "state"
    assert _injection_point(decorated)[0] == "context"
    for func in (plain, plain_kwargs, context_in_kwargs_only, parent):
        assert not wants_context(func)


def test_signature_is_inspected_once_per_function(mq):
    with DAG("many", queue=mq) as dag:
        dag.add_job(parent, name="parent")
        for i in range(20):
            dag.add_job(with_args_first, name=f"t{i}", args=(i, 1), depends_on="parent")
    before = _injection_point.cache_info()
    assert dag.execute(timeout=20)
    after = _injection_point.cache_info()
    # at most one miss for each of the two functions, every other job is a cache hit
    assert after.misses - before.misses <= 2
    assert after.hits - before.hits >= 19
    assert [dag.get_result(f"t{i}") for i in range(3)] == [(1, "P"), (2, "P"), (3, "P")]


def test_unhashable_callables_still_work():
    class Unhashable:
        __hash__ = None

        def __call__(self, context):
            return context

    assert wants_context(Unhashable())


def test_functions_without_a_context_are_called_exactly_as_before(mq):
    ids = [
        mq.enqueue(plain, args=(2,)),
        mq.enqueue(plain, args=(2,), kwargs={"y": 5}),
        mq.enqueue(plain_kwargs, args=(1, 2), kwargs={"k": "v"}),
        mq.enqueue(context_in_kwargs_only),
    ]
    Worker(mq).run(burst=True)
    assert [mq.get_result(i) for i in ids] == [4, 10, ((1, 2), {"k": "v"}), []]


def test_job_execute_takes_the_queuack_01_logger_argument(mq):
    import logging

    job_id = mq.enqueue(named_ctx)
    job = mq.claim()
    assert job.id == job_id
    result = job.execute(logger=logging.getLogger("old-code"))
    assert result == ("TaskContext", None)
    assert mq.ack(job.id, result=result) is True
    assert mq.get_result(job_id) == ("TaskContext", None)
