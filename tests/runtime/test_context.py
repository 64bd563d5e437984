"""TaskContext: its methods and attributes, declaration order, lazy loading, error messages,
get_context() lifecycle (threads, asyncio, cleanup), for_testing, and the worker's queue staying open.

Real DuckDB queues throughout; the store is spied on by wrapping its own methods, never replaced.
"""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

import queuack
import queuack.context
from queuack import (
    DAG,
    DuckQueue,
    JobStatus,
    TaskContext,
    UpstreamError,
    Worker,
    get_context,
    set_context,
)
from queuack.context import reset_context

from .conftest import location


# -- tasks ------------------------------------------------------------------------------------------

SEEN: list = []
SPY: dict[str, int] = {"results": 0, "query": 0, "parents": 0}


def value(x):
    return x


def boom():
    raise RuntimeError("parent exploded")


def describe(context):
    return {
        "job_id": context.job_id,
        "dag_run_id": context.dag_run_id,
        "task_name": context.task_name,
        "attempt": context.attempt,
        "names": context.get_parent_names(),
        "results": context.get_parent_results(),
        "has_a": context.has_upstream("a"),
        "has_nope": context.has_upstream("nope"),
        "a": context.upstream("a"),
        "or_missing": context.upstream_or("missing", "fallback"),
        "or_a": context.upstream_or("a", "fallback"),
    }


def by_id(parent_id, context):
    return context.get_parent_result(parent_id)


def lazy_reader(context):
    counts = []
    snap = lambda: (SPY["results"], SPY["query"])  # noqa: E731
    counts.append(("start", snap()))
    context.get_parent_names()
    context.has_upstream("a")
    context.has_upstream("zzz")
    counts.append(("names", snap()))
    context.upstream("a")
    counts.append(("a", snap()))
    context.upstream("a")
    context.upstream_or("a")
    counts.append(("a again", snap()))
    context.upstream("b")
    counts.append(("b", snap()))
    context.get_parent_results()
    counts.append(("all", snap()))
    context.get_parent_results()
    context.upstream("c")
    counts.append(("all again", snap()))
    return counts


def ask(name, context):
    try:
        return ("value", context.upstream(name))
    except UpstreamError as exc:
        return ("error", str(exc))


def ask_all(context):
    try:
        return ("value", context.get_parent_results())
    except UpstreamError as exc:
        return ("error", str(exc))


def ask_or(name, context):
    return context.upstream_or(name, "default")


def ask_by_id(job_id, context):
    try:
        return ("value", context.get_parent_result(job_id))
    except UpstreamError as exc:
        return ("error", str(exc))


def plain_upstream(context):
    return context.upstream("extract")


def helper_reads_upstream():
    return get_context().upstream("a") * 10


def uses_helper(context):
    return helper_reads_upstream()


def who_am_i():
    ctx = get_context()
    return None if ctx is None else (ctx.job_id, ctx.task_name)


def who_am_i_then_fail():
    SEEN.append(get_context().job_id)
    raise ValueError("fails after looking")


BARRIER: threading.Barrier | None = None


def concurrent(tag, context):
    mine = get_context()
    before = mine is context
    BARRIER.wait()  # all four tasks are running at the same time here
    after = get_context() is context
    return {"tag": tag, "job_id": context.job_id, "seen": get_context().job_id, "same": before and after,
            "thread": threading.get_ident()}


async def async_fanout(context):
    async def helper(delay):
        await asyncio.sleep(delay)
        return get_context().job_id

    ids = await asyncio.gather(*(helper(d) for d in (0.02, 0.0, 0.01)))
    return ids, context.job_id, context.upstream("a")


def closes_context_queue(context):
    handle = context.queue
    stats = handle.stats()
    handle.close()
    return sum(stats.values())  # the five jobs, whatever state each is in


def old_style_opens_and_closes(parent_id, db_path):
    queue = DuckQueue(db_path)
    result = queue.get_result(parent_id)
    queue.close()
    return result + 1


def uses_context_queue_twice(context):
    first = context.queue
    second = context.queue
    return first is second, context.queue_path


@pytest.fixture(autouse=True)
def _reset():
    SEEN.clear()
    for key in SPY:
        SPY[key] = 0
    assert get_context() is None
    yield
    assert get_context() is None


@pytest.fixture(params=["memory", "postgres"])
def mq(request, tmp_path):
    """A queue in memory, and the same on PostgreSQL (conftest.py's server)."""
    queue = DuckQueue(location(request, request.param, tmp_path))
    yield queue
    queue.close()


@pytest.fixture
def fq(tmp_path):
    queue = DuckQueue(str(tmp_path / "ctx.duckdb"))
    yield queue
    queue.close()


# -- the public names ----------------------------------------------------------------------------------


def test_names_are_exported_from_both_modules():
    assert queuack.TaskContext is queuack.context.TaskContext
    assert queuack.get_context is queuack.context.get_context
    assert queuack.set_context is queuack.context.set_context


# -- methods and attributes -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_every_method_and_attribute_inside_a_dag(kind, tmp_path):
    queue = DuckQueue(str(tmp_path / "m.duckdb")) if kind == "file" else DuckQueue()
    with DAG("ctx", queue=queue) as dag:
        dag.add_job(value, name="z", args=("Z",))
        dag.add_job(value, name="a", args=("A",))
        dag.add_job(value, name="m", args=("M",))
        dag.add_job(describe, name="child", depends_on=["z", "a", "m"])
    assert dag.execute(timeout=20)
    out = dag.get_result("child")
    assert out == {
        "job_id": dag.jobs["child"],
        "dag_run_id": dag.dag_run_id,
        "task_name": "child",
        "attempt": 1,
        "names": ["z", "a", "m"],  # declaration order, not alphabetical
        "results": ["Z", "A", "M"],
        "has_a": True,
        "has_nope": False,
        "a": "A",
        "or_missing": "fallback",
        "or_a": "A",
    }
    queue.close()


def test_declaration_order_holds_whatever_order_the_parents_finish_in(mq):
    with DAG("order", queue=mq) as dag:
        # parents finish in priority order: m, a, z; declared as z, a, m
        dag.add_job(value, name="z", args=(1,), priority=1)
        dag.add_job(value, name="a", args=(2,), priority=50)
        dag.add_job(value, name="m", args=(3,), priority=99)
        dag.add_job(describe, name="child", depends_on=["z", "a", "m"])
        dag.add_job(describe, name="child2", depends_on=["m", "z", "a"])
    assert dag.execute(timeout=20)
    assert dag.get_result("child")["names"] == ["z", "a", "m"]
    assert dag.get_result("child")["results"] == [1, 2, 3]
    assert dag.get_result("child2")["names"] == ["m", "z", "a"]
    assert dag.get_result("child2")["results"] == [3, 1, 2]


def test_order_survives_reopening_a_file_queue(tmp_path):
    path = str(tmp_path / "reopen.duckdb")
    queue = DuckQueue(path)
    with DAG("order", queue=queue) as dag:
        for name in ("z", "a", "m"):
            dag.add_job(value, name=name, args=(name,))
        dag.add_job(describe, name="child", depends_on=["z", "a", "m"])
    child = dag.jobs["child"]
    Worker(queue, only=[dag.jobs[n] for n in ("z", "a", "m")]).run(burst=True)
    queue.close()
    queue = DuckQueue(path)  # the schedule is rebuilt from the file
    Worker(queue).run(burst=True)
    assert queue.get_result(child)["names"] == ["z", "a", "m"]
    assert queue.get_result(child)["results"] == ["z", "a", "m"]
    queue.close()


def test_get_parent_result_by_job_id(mq):
    with DAG("ids", queue=mq) as dag:
        a = dag.add_job(value, name="a", args=(7,))
        dag.add_job(by_id, name="b", args=(a,), depends_on="a")
        dag.add_job(ask_by_id, name="c", args=("not-a-parent",), depends_on="a")
    assert dag.execute(timeout=20)
    assert dag.get_result("b") == 7
    kind, message = dag.get_result("c")
    assert kind == "error" and "not-a-parent" in message and a in message


def test_attempt_counts_retries():
    queue = DuckQueue(retry_backoff=0)
    with DAG("retry", queue=queue) as dag:
        dag.add_job(fail_once_then_report, name="t", args=(str(uuid.uuid4()),), max_attempts=3)
    assert dag.execute(timeout=20)
    assert dag.get_result("t") == 2
    queue.close()


_FAILED_ONCE: set[str] = set()


def fail_once_then_report(token, context):
    if token not in _FAILED_ONCE:
        _FAILED_ONCE.add(token)
        raise RuntimeError("first attempt")
    return context.attempt


def test_plain_job_gets_a_context_with_its_identity(mq):
    job_id = mq.enqueue(who_am_i)
    Worker(mq).run(burst=True)
    assert mq.get_result(job_id) == (job_id, None)


def test_plain_jobs_wired_by_id_read_parents_by_id(mq):
    parent = mq.enqueue(value, args=(3,))
    child = mq.enqueue(by_id, args=(parent,), depends_on=parent)
    Worker(mq).run(burst=True)
    assert mq.get_result(child) == 3


# -- lazy loading -------------------------------------------------------------------------------------


def _spy(monkeypatch, store):
    """Count calls on the real store by wrapping its own bound methods."""
    for name in ("results", "query", "parents"):
        original = getattr(store, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            SPY[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(store, name, counted)


@pytest.mark.duckdb_only("counts the statements of the DuckDB store")
@pytest.mark.parametrize("runner", ["worker", "job.execute"])
def test_results_load_lazily_and_once(mq, monkeypatch, runner):
    with DAG("lazy", queue=mq) as dag:
        for name, v in (("a", 1), ("b", 2), ("c", 3)):
            dag.add_job(value, name=name, args=(v,))
        dag.add_job(lazy_reader, name="reader", depends_on=["a", "b", "c"])
    Worker(mq, only=[dag.jobs[n] for n in "abc"]).run(burst=True)
    _spy(monkeypatch, mq._live_store())
    if runner == "worker":
        Worker(mq).run(burst=True)
        counts = dict(mq.get_result(dag.jobs["reader"]))
    else:
        counts = dict(dag.get_job("reader").execute())
    results = {k: v[0] for k, v in counts.items()}
    queries = {k: v[1] for k, v in counts.items()}
    # names and has_upstream never load a result
    assert results["names"] == results["start"]
    # one load per parent, never repeated
    assert results["a"] == results["names"] + 1
    assert results["a again"] == results["a"]
    assert results["b"] == results["a"] + 1
    assert results["all"] == results["b"] + 1  # only "c" was left: one batch for it
    assert results["all again"] == results["all"]
    # no query per lookup: repeated lookups cost nothing, and each load costs at most one query
    assert queries["a again"] == queries["a"]
    assert queries["all again"] == queries["all"]
    assert queries["all"] - queries["names"] <= 3
    # the parent list is read at most once (none when the Worker already holds it), and the
    # parents' statuses once for has_upstream (which is True only for a parent that succeeded)
    assert queries["names"] - queries["start"] <= 2


def names_only(context):
    return context.has_upstream("extract"), context.has_upstream("x"), context.get_parent_names()


def test_has_upstream_loads_nothing(mq, monkeypatch):
    with DAG("names", queue=mq) as dag:
        dag.add_job(value, name="extract", args=(1,))
        dag.add_job(value, name="clean", args=(2,))
        dag.add_job(names_only, name="t", depends_on=["extract", "clean"])
    Worker(mq, only=[dag.jobs["extract"], dag.jobs["clean"]]).run(burst=True)
    store = mq._live_store()

    def no_results(ids):
        raise AssertionError(f"a result was loaded: {ids}")

    monkeypatch.setattr(store, "results", no_results)  # any load fails the task loudly
    assert dag.get_job("t").execute() == (True, False, ["extract", "clean"])
    Worker(mq).run(burst=True)
    monkeypatch.undo()
    assert dag.get_result("t") == (True, False, ["extract", "clean"])


# -- errors ------------------------------------------------------------------------------------------------


def test_unknown_upstream_name_lists_the_parents(mq):
    with DAG("err", queue=mq) as dag:
        dag.add_job(value, name="extract", args=(1,))
        dag.add_job(value, name="clean", args=(2,))
        dag.add_job(ask, name="t", args=("extarct",), depends_on=["extract", "clean"])
    assert dag.execute(timeout=20)
    kind, message = dag.get_result("t")
    assert kind == "error"
    assert "'extarct'" in message and "'extract'" in message and "'clean'" in message
    assert "upstream_or" in message or "depends_on" in message


def test_upstream_outside_a_dag_says_it_needs_a_dag_run(mq):
    job_id = mq.enqueue(plain_upstream, max_attempts=1)
    Worker(mq).run(burst=True)
    job = mq.get_job(job_id)
    assert job.status is JobStatus.FAILED
    assert "UpstreamError" in job.error and "needs a DAG run" in job.error
    # the same from job.execute()
    with pytest.raises(UpstreamError, match="needs a DAG run"):
        mq.get_job(job_id).execute()


def test_a_failed_parent_says_so(mq):
    with DAG("failed-parent", queue=mq) as dag:
        dag.add_job(boom, name="bad", max_attempts=1)
        dag.add_job(value, name="good", args=(1,))
        dag.add_job(ask, name="t", args=("bad",), depends_on=["bad", "good"], dependency_mode="any")
        dag.add_job(ask_all, name="all", depends_on=["bad", "good"], dependency_mode="any")
        dag.add_job(ask_or, name="or", args=("bad",), depends_on=["bad", "good"], dependency_mode="any")
        dag.add_job(ask_or, name="or_good", args=("good",), depends_on=["bad", "good"], dependency_mode="any")
    dag.execute(timeout=20)
    kind, message = dag.get_result("t")
    assert kind == "error" and "'bad'" in message and "failed" in message and "parent exploded" in message
    kind, message = dag.get_result("all")
    assert kind == "error" and "failed" in message
    assert dag.get_result("or") == "default"
    assert dag.get_result("or_good") == 1


def test_a_skipped_parent_says_so(mq):
    with DAG("skipped-parent", queue=mq) as dag:
        dag.add_job(boom, name="bad", max_attempts=1)
        dag.add_job(value, name="lost", args=(1,), depends_on="bad")
        dag.add_job(value, name="good", args=(2,))
        dag.add_job(ask, name="t", args=("lost",), depends_on=["lost", "good"], dependency_mode="any")
        dag.add_job(ask_or, name="or", args=("lost",), depends_on=["lost", "good"], dependency_mode="any")
    dag.execute(timeout=20)
    assert dag.get_job("lost").status is JobStatus.SKIPPED
    kind, message = dag.get_result("t")
    assert kind == "error" and "'lost'" in message and "skipped" in message
    assert dag.get_result("or") == "default"


def test_upstream_of_an_unfinished_parent_says_so(mq):
    with DAG("early", queue=mq) as dag:
        dag.add_job(value, name="a", args=(1,))
        dag.add_job(ask, name="t", args=("a",), depends_on="a")
    # run the child by hand before its parent has finished
    kind, message = dag.get_job("t").execute()
    assert kind == "error" and "not finished" in message and "pending" in message


# -- for_testing --------------------------------------------------------------------------------------------


def transform(context):
    """A task as a user writes it."""
    return [x * 2 for x in context.upstream("extract")] + [context.upstream_or("extra", 0)]


def test_for_testing_calls_a_task_without_a_queue():
    ctx = TaskContext.for_testing({"extract": [1, 2, 3]})
    assert transform(context=ctx) == [2, 4, 6, 0]
    assert transform(TaskContext.for_testing({"extract": [5], "extra": 9})) == [10, 9]
    assert ctx.get_parent_names() == ["extract"]
    assert ctx.get_parent_results() == [[1, 2, 3]]
    assert ctx.has_upstream("extract") and not ctx.has_upstream("extra")
    assert ctx.queue is None
    assert (ctx.job_id, ctx.dag_run_id, ctx.task_name, ctx.attempt) == ("test-job", "test-run", "task", 1)
    with pytest.raises(UpstreamError, match="'extract'"):
        ctx.upstream("missing")
    custom = TaskContext.for_testing({"b": 2, "a": 1}, task_name="load", job_id="j1", dag_run_id="r1", attempt=3)
    assert custom.get_parent_names() == ["b", "a"]
    assert (custom.job_id, custom.dag_run_id, custom.task_name, custom.attempt) == ("j1", "r1", "load", 3)
    assert "for_testing" in TaskContext.for_testing.__doc__ or "unit test" in TaskContext.for_testing.__doc__


def test_for_testing_works_with_get_context_in_helpers():
    ctx = TaskContext.for_testing({"a": 4})
    token = set_context(ctx)
    try:
        assert helper_reads_upstream() == 40
    finally:
        reset_context(token)
    assert get_context() is None


# -- get_context --------------------------------------------------------------------------------------------


def test_get_context_reaches_helpers_and_is_none_outside(mq):
    assert get_context() is None
    with DAG("helper", queue=mq) as dag:
        dag.add_job(value, name="a", args=(4,))
        dag.add_job(uses_helper, name="b", depends_on="a")
    assert dag.execute(timeout=20)
    assert dag.get_result("b") == 40
    assert get_context() is None


def test_context_is_reset_after_each_job_also_a_raising_one(mq):
    ok1 = mq.enqueue(who_am_i, priority=90)
    bad = mq.enqueue(who_am_i_then_fail, priority=80, max_attempts=1)
    ok2 = mq.enqueue(who_am_i, priority=70)
    Worker(mq).run(burst=True)  # concurrency 1: the jobs run in this very thread
    assert get_context() is None
    assert mq.get_result(ok1) == (ok1, None)
    assert SEEN == [bad]
    assert mq.get_result(ok2) == (ok2, None)  # not the raising job's stale context
    with pytest.raises(ValueError):
        mq.get_job(bad).execute()
    assert get_context() is None


def helper_task_name():
    return get_context().task_name, get_context().upstream("a")


def with_timeout(context):
    import threading as _t

    return helper_task_name(), context.job_id == get_context().job_id, _t.current_thread().name


def test_get_context_in_a_task_with_a_timeout(mq):
    # a task with timeout_seconds runs on a thread of its own: the context follows it there
    with DAG("timed", queue=mq) as dag:
        dag.add_job(value, name="a", args=("A",))
        dag.add_job(with_timeout, name="t", depends_on="a", timeout_seconds=10)
    assert dag.execute(timeout=20)
    (name, a), same, thread = dag.get_result("t")
    assert (name, a, same) == ("t", "A", True)
    assert thread != threading.current_thread().name


def test_set_context_and_reset():
    ctx = TaskContext.for_testing({})
    token = set_context(ctx)
    assert get_context() is ctx
    reset_context(token)
    assert get_context() is None


def test_each_worker_thread_sees_its_own_context(mq):
    global BARRIER
    BARRIER = threading.Barrier(4, timeout=10)
    with DAG("threads", queue=mq) as dag:
        for i in range(4):
            dag.add_job(value, name=f"p{i}", args=(i,))
        for i in range(4):
            dag.add_job(concurrent, name=f"t{i}", args=(i,), depends_on=f"p{i}")
    assert dag.execute(timeout=30, concurrency=4)
    outs = [dag.get_result(f"t{i}") for i in range(4)]
    for i, out in enumerate(outs):
        assert out["same"] is True
        assert out["job_id"] == out["seen"] == dag.jobs[f"t{i}"]
    assert len({o["thread"] for o in outs}) == 4
    assert get_context() is None


def test_each_thread_of_a_long_running_worker(fq):
    global BARRIER
    BARRIER = threading.Barrier(4, timeout=10)
    ids = [fq.enqueue(concurrent, args=(i,)) for i in range(4)]
    worker = Worker(fq, concurrency=4)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if fq.stats()["done"] == 4:
                break
            fq._live_store().wait_for_work(0.05)
        outs = [fq.get_result(i) for i in ids]
    finally:
        worker.stop()
        thread.join(10)
    assert [o["job_id"] for o in outs] == ids
    assert all(o["same"] and o["seen"] == o["job_id"] for o in outs)


def test_plain_tasks_on_several_threads_each_see_their_own_context(mq):
    ids = [mq.enqueue(who_am_i) for _ in range(24)]
    Worker(mq, concurrency=4).run(burst=True)
    assert [mq.get_result(i) for i in ids] == [(i, None) for i in ids]


def test_get_context_inside_asyncio_tasks(mq):
    with DAG("async", queue=mq) as dag:
        dag.add_job(value, name="a", args=("A",))
        dag.add_job(async_fanout, name="b", depends_on="a")
    assert dag.execute(timeout=20)
    ids, own, a = dag.get_result("b")
    assert ids == [own] * 3 and own == dag.jobs["b"] and a == "A"


def test_async_job_executed_from_inside_a_running_loop(mq):
    with DAG("async-loop", queue=mq) as dag:
        dag.add_job(value, name="a", args=("A",))
        dag.add_job(async_fanout, name="b", depends_on="a")
    Worker(mq, only=[dag.jobs["a"]]).run(burst=True)
    job = dag.get_job("b")

    async def main():
        return job.execute()

    ids, own, a = asyncio.run(main())
    assert ids == [own] * 3 and own == job.id and a == "A"


def test_contexts_in_concurrent_asyncio_tasks_stay_apart():
    async def one(name):
        token = set_context(TaskContext.for_testing({}, task_name=name))
        try:
            await asyncio.sleep(0.01)
            return get_context().task_name
        finally:
            reset_context(token)

    async def main():
        return await asyncio.gather(*(one(f"t{i}") for i in range(5)))

    assert asyncio.run(main()) == [f"t{i}" for i in range(5)]


# -- the worker's queue stays open ---------------------------------------------------------------------


def test_closing_context_queue_leaves_the_worker_running(fq):
    first = fq.enqueue(value, args=(1,), priority=99)
    closer = fq.enqueue(closes_context_queue, priority=90)
    later = [fq.enqueue(value, args=(i,), priority=10) for i in range(3)]
    worker = Worker(fq)
    worker.run(burst=True)
    assert fq.get_job(first).status is JobStatus.DONE
    assert fq.get_result(closer) == 5
    assert [fq.get_result(j) for j in later] == [0, 1, 2]
    assert not fq.closed
    assert fq.stats()["done"] == 5
    extra = fq.enqueue(value, args=(9,))  # the queue still takes work
    worker.run(burst=True)
    assert fq.get_result(extra) == 9


def test_old_style_task_opening_and_closing_the_same_file_leaves_the_worker_running(tmp_path):
    path = str(tmp_path / "old.duckdb")
    queue = DuckQueue(path)
    parent = queue.enqueue(value, args=(41,))
    child = queue.enqueue(old_style_opens_and_closes, args=(parent, path), depends_on=parent)
    after = queue.enqueue(value, args=("after",), depends_on=child)
    worker = Worker(queue, concurrency=2)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if queue.stats()["done"] == 3:
                break
            queue._live_store().wait_for_work(0.05)
    finally:
        worker.stop()
        thread.join(10)
    assert queue.get_result(child) == 42
    assert queue.get_result(after) == "after"
    assert not queue.closed and queue.stats()["done"] == 3
    queue.close()


def test_the_context_queue_handle_is_closed_when_the_job_ends(tmp_path):
    path = str(tmp_path / "handle.duckdb")
    queue = DuckQueue(path)
    job_id = queue.enqueue(uses_context_queue_twice)
    Worker(queue).run(burst=True)
    same, queue_path = queue.get_result(job_id)
    assert same is True and queue_path == path
    store = queue._live_store()
    queue.close()
    # no handle lent to the task is left open: the file is released with the last queue
    assert store.closed
    reopened = DuckQueue(path)
    assert reopened.get_result(job_id) == (True, path)
    reopened.close()


# -- queuack 0.1 context helpers ---------------------------------------------------------------------


def old_helpers(context):
    out = {
        "completed": context.upstream_completed(),
        "any": context.upstream_any(),
        "has_any": (context.has_upstream_any("nope", "good"), context.has_upstream_any("x", "y")),
    }
    try:
        context.upstream_all()
    except ValueError as exc:  # queuack 0.1 raised ValueError here; old tasks catch that
        out["all"] = str(exc)
    try:
        context.upstream("nope")
    except ValueError as exc:
        out["unknown"] = type(exc).__name__
    return out


def all_parents(context):
    return context.upstream_all()


def old_closing_task(context):
    with context:
        rows = context.queue.stats()
    context.close()
    return sum(rows.values())


def test_queuack_01_context_helpers(mq):
    with DAG("old-helpers", queue=mq) as dag:
        dag.add_job(boom, name="bad", max_attempts=1)
        dag.add_job(value, name="good", args=("G",))
        dag.add_job(value, name="other", args=("O",))
        dag.add_job(old_helpers, name="t", depends_on=["bad", "other", "good"], dependency_mode="any")
        dag.add_job(all_parents, name="all", depends_on=["good", "other"])
    dag.execute(timeout=20)
    out = dag.get_result("t")
    assert out["completed"] == {"other": "O", "good": "G"}
    assert list(out["completed"]) == ["other", "good"]
    assert out["any"] == "O"
    assert out["has_any"] == (True, False)
    assert "'bad'" in out["all"] and "failed" in out["all"]
    assert out["unknown"] == "UpstreamError"
    assert dag.get_result("all") == {"good": "G", "other": "O"}
    with pytest.raises(UpstreamError, match="no upstream task of 'x' has succeeded"):
        TaskContext.for_testing({}, task_name="x").upstream_any()


def test_context_close_and_with_block_leave_the_worker_running(fq):
    ids = [fq.enqueue(old_closing_task) for _ in range(3)]
    worker = Worker(fq, concurrency=2)
    worker.run(burst=True)
    assert all(fq.get_job(i).status is JobStatus.DONE for i in ids)
    assert not fq.closed
    extra = fq.enqueue(value, args=(1,))
    worker.run(burst=True)
    assert fq.get_result(extra) == 1
