"""DAG building, validation at submission, gating, status, execute/wait and Mermaid export.

Every test runs against a real DuckDB queue (in memory, and on a file where the difference matters).
Task functions live at module level: jobs store functions by reference.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from queuack import (
    DAG,
    DAGStatus,
    DAGValidationError,
    DuckQueue,
    JobStatus,
    Worker,
)

# -- tasks ------------------------------------------------------------------------------------------

LOG: list[str] = []
GATE = threading.Event()
STARTED = threading.Event()


def value(x):
    return x


def record(name, result=None):
    LOG.append(name)
    return result if result is not None else name


def add(a, b=0, *, c=0):
    return a + b + c


def boom(message="boom"):
    raise RuntimeError(message)


def wait_for_gate(name):
    STARTED.set()
    if not GATE.wait(10):
        raise TimeoutError("the test never opened the gate")
    LOG.append(name)
    return name


def open_gate(name):
    LOG.append(name)
    GATE.set()
    return name


def sleepy(seconds):
    time.sleep(seconds)
    return seconds


def sum_parents(context):
    return sum(context.get_parent_results())


@pytest.fixture(autouse=True)
def _reset():
    LOG.clear()
    GATE.clear()
    STARTED.clear()
    yield
    GATE.set()  # never leave a task blocked


@pytest.fixture
def q(queue):
    """The runtime tests' queue on every backend (conftest.py)."""
    return queue


@pytest.fixture
def mq():
    queue = DuckQueue()
    yield queue
    queue.close()


def dag_rows(queue, dag):
    """Rows of this DAG in the database: jobs, edges and the run record."""
    store = queue._live_store()
    jobs = len(store.dag_nodes(dag.dag_run_id))
    edges = sum(len(parents) for parents in store.parents(list(dag.jobs.values())).values())
    runs = 1 if store.dag_run(dag.dag_run_id) is not None else 0
    return jobs, edges, runs


# -- construction -------------------------------------------------------------------------------------


def test_dag_without_queue_owns_a_private_in_memory_queue():
    with DAG("private") as dag:
        dag.add_job(value, name="a", args=(2,))
        dag.add_job(sum_parents, name="b", depends_on="a")
    assert isinstance(dag.queue, DuckQueue)
    assert dag.queue.db_path == ":memory:"
    assert dag.execute(timeout=20) is True
    assert dag.get_result("b") == 2
    other = DAG("other")
    assert other.queue is not dag.queue
    assert other.queue.stats()["pending"] == 0
    dag.close()
    other.close()
    assert dag.queue.closed


def test_dag_with_queue_runs_on_that_queue(q):
    with DAG("etl", queue=q) as dag:
        dag.add_job(value, name="a", args=(1,))
    assert dag.queue is q
    assert q.stats()["pending"] == 1
    assert q.get_job(dag.jobs["a"]).node_name == "a"
    assert q.get_job(dag.jobs["a"]).dag_run_id == dag.dag_run_id
    dag.close()  # a borrowed queue is not closed by the DAG
    assert not q.closed


def test_q_dag_builder_takes_queuack_01_positional_order(q):
    with q.dag("old") as dag:
        first = dag.enqueue(add, (1,), {"b": 2}, "first")
        dag.enqueue(add, (10,), {"c": 5}, "second", "first")
        dag.enqueue(value, ("x",), None, "third", ["first", "second"])
    assert isinstance(dag, DAG) and dag.queue is q
    assert dag.jobs["first"] == first
    assert dag.execute(timeout=20)
    assert [dag.get_result(n) for n in ("first", "second", "third")] == [3, 15, "x"]
    assert q.get_job(dag.jobs["third"]).node_name == "third"


def test_add_node_is_add_job_and_names_default_to_the_function(mq):
    dag = DAG("d", queue=mq)
    dag.add_node(value, args=(1,))
    dag.add_job(value, args=(2,))
    dag.add_job(add, args=(1, 2))
    assert list(dag.jobs) == ["value", "value_2", "add"]
    assert dag.execute(timeout=20)
    assert dag.get_result("value_2") == 2


def test_per_job_options_are_stored(q):
    with DAG("opts", queue=q) as dag:
        dag.add_job(add, name="a", args=(1, 2), kwargs={"c": 3}, priority=90, max_attempts=5,
                    timeout_seconds=7.5)
        dag.add_job(value, name="b", args=(1,), depends_on="a", dependency_mode="any", max_attempts=1)
    a, b = dag.get_job("a"), dag.get_job("b")
    assert (a.priority, a.max_attempts, a.timeout_seconds, a.dependency_mode) == (90, 5, 7.5, "all")
    assert (b.priority, b.max_attempts, b.dependency_mode) == (50, 1, "any")
    assert dag.execute(timeout=20)
    assert dag.get_result("a") == 6


def test_priority_orders_independent_ready_tasks(mq):
    with DAG("prio", queue=mq) as dag:
        dag.add_job(record, name="low", args=("low",), priority=10)
        dag.add_job(record, name="high", args=("high",), priority=90)
        dag.add_job(record, name="mid", args=("mid",), priority=50)
    assert dag.execute(timeout=20)
    assert LOG == ["high", "mid", "low"]


def test_independent_tasks_of_equal_priority_run_in_the_order_they_were_added(q):
    with DAG("fifo", queue=q) as dag:
        for name in "abcde":
            dag.add_job(record, name=name, args=(name,))
        dag.add_job(record, name="a_child", args=("a_child",), depends_on="a")
        dag.add_job(record, name="first_child", args=("first_child",), depends_on="a")
    assert dag.execute(timeout=20)
    assert LOG == ["a", "b", "c", "d", "e", "a_child", "first_child"]


def test_get_result_by_name_or_id_and_unknown_names(mq):
    with DAG("results", queue=mq) as dag:
        a = dag.add_job(value, name="a", args=(1,))
    assert dag.execute(timeout=20)
    assert dag.get_result("a") == dag.get_result(a) == 1
    with pytest.raises(KeyError, match="no task 'nope'; its tasks: a"):
        dag.get_result("nope")


def test_timeout_seconds_fails_an_overrunning_task(mq):
    with DAG("slow", queue=mq) as dag:
        dag.add_job(sleepy, name="slow", args=(1.5,), timeout_seconds=0.2, max_attempts=1)
    assert dag.execute(timeout=20) is False
    job = dag.get_job("slow")
    assert job.status is JobStatus.FAILED
    assert "timed out" in job.error


def test_max_attempts_retries_then_fails():
    queue = DuckQueue(retry_backoff=0)
    with DAG("retry", queue=queue) as dag:
        dag.add_job(boom, name="b", max_attempts=3)
    assert dag.execute(timeout=20) is False
    job = dag.get_job("b")
    assert job.status is JobStatus.FAILED and job.attempts == 3
    queue.close()


@pytest.mark.parametrize("method", ["add_job", "add_node", "enqueue"])
def test_unknown_keyword_argument_is_a_type_error(mq, method):
    dag = DAG("typo", queue=mq)
    with pytest.raises(TypeError, match="dependson"):
        getattr(dag, method)(value, name="a", dependson="x")
    with pytest.raises(TypeError):
        DAG("typo", queue=mq, bogus=True)
    assert dag.jobs == {}


def test_bad_option_values_are_refused_at_the_line_that_adds_them(mq):
    dag = DAG("bad", queue=mq)
    with pytest.raises(TypeError, match="depends_on of task 'x'"):
        dag.add_job(value, name="x", depends_on=5)
    with pytest.raises(TypeError, match="depends_on of task 'y'"):
        dag.add_job(value, name="y", depends_on=["a", None])
    with pytest.raises(ValueError, match="dependency_mode"):
        dag.add_job(value, name="a", dependency_mode="some")
    with pytest.raises(ValueError, match="max_attempts"):
        dag.add_job(value, name="b", max_attempts=0)
    with pytest.raises(ValueError, match="lambda"):
        dag.add_job(lambda: 1, name="c")


# -- depends_on -------------------------------------------------------------------------------------------


def test_depends_on_a_name_added_later_in_the_block(q):
    with DAG("later", queue=q) as dag:
        dag.add_job(record, name="child", args=("child",), depends_on="parent")
        dag.add_job(record, name="parent", args=("parent",))
    assert dag.execute(timeout=20)
    assert LOG == ["parent", "child"]


def test_depends_on_a_list_of_names(q):
    with DAG("list", queue=q) as dag:
        dag.add_job(value, name="a", args=(1,))
        dag.add_job(value, name="b", args=(2,))
        dag.add_job(value, name="c", args=(4,))
        dag.add_job(sum_parents, name="total", depends_on=["a", "b", "c"])
    assert dag.execute(timeout=20)
    assert dag.get_result("total") == 7


def test_depends_on_the_id_of_a_job_already_in_the_queue(q):
    outside = q.enqueue(value, args=(40,))
    with DAG("ext", queue=q) as dag:
        dag.add_job(sum_parents, name="child", depends_on=outside)
    # the external job is not part of the DAG: execute() does not run it
    assert dag.execute(timeout=0.3) is False
    assert dag.get_job("child").status is JobStatus.PENDING
    Worker(q).run(burst=True)
    assert q.get_job(outside).status is JobStatus.DONE
    assert dag.status is DAGStatus.DONE
    assert dag.get_result("child") == 40


def test_depends_on_a_finished_external_job_is_ready_at_once(q):
    outside = q.enqueue(value, args=(1,))
    Worker(q).run(burst=True)
    with DAG("ext-done", queue=q) as dag:
        dag.add_job(sum_parents, name="child", depends_on=[outside])
    assert dag.execute(timeout=20)
    assert dag.get_result("child") == 1


def test_depends_on_a_failed_external_job_skips_the_child(q):
    outside = q.enqueue(boom, max_attempts=1)
    Worker(q).run(burst=True)
    with DAG("ext-failed", queue=q) as dag:
        dag.add_job(value, name="child", args=(1,), depends_on=outside)
        dag.add_job(value, name="grandchild", args=(1,), depends_on="child")
    assert dag.execute(timeout=5) is False
    assert dag.get_job("child").status is JobStatus.SKIPPED
    assert dag.get_job("grandchild").status is JobStatus.SKIPPED
    assert dag.status is DAGStatus.FAILED


def test_depends_on_the_id_returned_by_add_job(q):
    with DAG("ids", queue=q) as dag:
        a = dag.add_job(value, name="a", args=(5,))
        b = dag.add_job(value, name="b", args=(6,))
        assert isinstance(a, str) and dag.jobs == {"a": a, "b": b}
        dag.add_job(sum_parents, name="c", depends_on=[a, "b"])
    assert dag.execute(timeout=20)
    assert dag.get_result("c") == 11
    assert dag.get_job(a).node_name == "a"  # get_job also takes a job id of the DAG
    edges = q._live_store().parents([dag.jobs["c"]])[dag.jobs["c"]]
    assert edges == [(a, "a"), (b, "b")]


# -- validation at submission --------------------------------------------------------------------------


def _assert_nothing_left(queue, dag, before):
    assert queue.stats() == before
    assert dag_rows(queue, dag) == (0, 0, 0)
    assert not dag.submitted
    assert dag.status is DAGStatus.PENDING


def test_cycle_is_refused_with_the_path_of_names(q):
    before = q.stats()
    dag = DAG("cyclic", queue=q)
    with pytest.raises(DAGValidationError) as info:
        with dag:
            dag.add_job(value, name="start", args=(1,))
            dag.add_job(value, name="a", args=(1,), depends_on=["start", "c"])
            dag.add_job(value, name="b", args=(1,), depends_on="a")
            dag.add_job(value, name="c", args=(1,), depends_on="b")
            dag.add_job(value, name="d", args=(1,), depends_on="c")
    message = str(info.value)
    assert "cycle" in message
    path = message.split("cycle: ", 1)[1].split(" -> ")
    assert path[0] == path[-1]
    assert sorted(path[:-1]) == ["a", "b", "c"]
    # consecutive names are real edges: each one's child depends on it
    deps = {"a": {"start", "c"}, "b": {"a"}, "c": {"b"}}
    for parent, child in zip(path, path[1:]):
        assert parent in deps[child]
    _assert_nothing_left(q, dag, before)


def test_two_node_cycle(mq):
    dag = DAG("two", queue=mq)
    dag.add_job(value, name="x", args=(1,), depends_on="y")
    dag.add_job(value, name="y", args=(1,), depends_on="x")
    with pytest.raises(DAGValidationError, match=r"cycle: (x -> y -> x|y -> x -> y)"):
        dag.submit()
    with pytest.raises(DAGValidationError, match="cycle"):
        dag.validate()
    _assert_nothing_left(mq, dag, mq.stats())


def test_unknown_dependency_lists_the_known_names(q):
    before = q.stats()
    dag = DAG("unknown", queue=q)
    with pytest.raises(DAGValidationError) as info:
        with dag:
            dag.add_job(value, name="extract", args=(1,))
            dag.add_job(value, name="transform", args=(1,), depends_on="extract")
            dag.add_job(value, name="load", args=(1,), depends_on="transfrom")
    message = str(info.value)
    assert "'transfrom'" in message and "'load'" in message
    for name in ("extract", "transform", "load"):
        assert name in message.split("its tasks:", 1)[1]
    _assert_nothing_left(q, dag, before)


def test_duplicate_name_is_refused(q):
    q.enqueue(value, args=(1,))
    before = q.stats()
    dag = DAG("dup", queue=q)
    with pytest.raises(DAGValidationError, match="duplicate task name.*'?same'?"):
        with dag:
            dag.add_job(value, name="same", args=(1,))
            dag.add_job(value, name="other", args=(2,))
            dag.add_job(value, name="same", args=(3,))
    _assert_nothing_left(q, dag, before)


def test_self_dependency_is_refused(q):
    before = q.stats()
    dag = DAG("self", queue=q)
    with pytest.raises(DAGValidationError, match="'me' depends on itself"):
        with dag:
            dag.add_job(value, name="ok", args=(1,))
            dag.add_job(value, name="me", args=(1,), depends_on=["ok", "me"])
    _assert_nothing_left(q, dag, before)


def test_missing_external_job_id_is_refused(q):
    q.enqueue(value, args=(1,))
    before = q.stats()
    ghost = str(uuid.uuid4())
    dag = DAG("ghost", queue=q)
    with pytest.raises(DAGValidationError) as info:
        with dag:
            dag.add_job(value, name="a", args=(1,))
            dag.add_job(value, name="b", args=(1,), depends_on=["a", ghost])
    assert ghost in str(info.value)
    assert "not" in str(info.value)
    _assert_nothing_left(q, dag, before)


def test_a_refused_dag_can_be_fixed_by_building_a_new_one(mq):
    bad = DAG("etl", queue=mq)
    bad.add_job(value, name="a", args=(1,), depends_on="missing")
    with pytest.raises(DAGValidationError):
        bad.submit()
    with DAG("etl", queue=mq) as good:
        good.add_job(value, name="a", args=(1,))
    assert good.execute(timeout=20)
    assert mq.stats()["done"] == 1 and mq.stats()["pending"] == 0


def test_a_refused_dag_can_be_completed_and_submitted_again(mq):
    dag = DAG("fix-me", queue=mq)
    dag.add_job(sum_parents, name="a", depends_on="b")
    with pytest.raises(DAGValidationError, match="'b'"):
        dag.submit()
    dag.add_job(value, name="b", args=(5,))
    dag.submit()
    assert dag.execute(timeout=20)
    assert dag.get_result("a") == 5


def test_exception_inside_the_block_submits_nothing(mq):
    dag = DAG("aborted", queue=mq)
    with pytest.raises(KeyError):
        with dag:
            dag.add_job(value, name="a", args=(1,))
            raise KeyError("user code failed")
    assert not dag.submitted
    assert mq.stats()["pending"] == 0


def test_submit_twice_is_a_no_op(q):
    dag = DAG("twice", queue=q)
    dag.add_job(value, name="a", args=(1,))
    run = dag.submit()
    assert dag.submit() == run == dag.dag_run_id
    with dag:  # leaving a block again submits nothing more
        pass
    assert q.stats()["pending"] == 1
    assert dag_rows(q, dag) == (1, 0, 1)
    with pytest.raises(DAGValidationError, match="already submitted"):
        dag.add_job(value, name="late", args=(1,))


def test_ten_thousand_nodes_build_and_submit(tmp_path):
    queue = DuckQueue(str(tmp_path / "big.duckdb"))
    dag = DAG("big", queue=queue)
    dag.add_job(value, name="n0", args=(0,))
    for i in range(1, 10_000):
        # a long chain with some fan-in: the topological sort and the cycle check must stay linear
        deps = [f"n{i - 1}"] if i % 10 else [f"n{i - 1}", f"n{i - 10}"]
        dag.add_job(value, name=f"n{i}", args=(i,), depends_on=deps)
    dag.submit()
    assert queue.stats()["pending"] == 10_000
    assert dag_rows(queue, dag) == (10_000, 9_999 + 999, 1)
    assert dag.get_job("n9999").node_name == "n9999"
    queue.close()


def test_ten_thousand_node_cycle_is_found(mq):
    dag = DAG("bigcycle", queue=mq)
    for i in range(10_000):
        dag.add_job(value, name=f"n{i}", args=(i,), depends_on=f"n{(i - 1) % 10_000}")
    with pytest.raises(DAGValidationError, match="cycle"):
        dag.submit()
    assert mq.stats()["pending"] == 0


# -- gating ---------------------------------------------------------------------------------------------------


def test_all_waits_for_every_parent(q):
    with DAG("all", queue=q) as dag:
        dag.add_job(record, name="p1", args=("p1",), priority=10)
        dag.add_job(record, name="child", args=("child",), depends_on=["p1", "p2", "p3"], priority=99)
        dag.add_job(record, name="p2", args=("p2",), priority=10)
        dag.add_job(record, name="p3", args=("p3",), priority=1)
    assert dag.execute(timeout=20)
    assert LOG[-1] == "child" and sorted(LOG[:-1]) == ["p1", "p2", "p3"]


def test_any_runs_once_one_parent_is_done(mq):
    # "slow" blocks until "child" opens the gate: child can only run while slow is still running
    with DAG("any", queue=mq) as dag:
        dag.add_job(wait_for_gate, name="slow", args=("slow",))
        dag.add_job(record, name="fast", args=("fast",))
        dag.add_job(open_gate, name="child", args=("child",), depends_on=["slow", "fast"],
                    dependency_mode="any")
    assert dag.execute(timeout=20, concurrency=2)
    assert LOG.index("child") < LOG.index("slow")
    assert LOG.index("fast") < LOG.index("child")


def test_failed_parent_skips_all_children_and_their_descendants(q):
    with DAG("skip", queue=q) as dag:
        dag.add_job(boom, name="bad", max_attempts=1)
        dag.add_job(value, name="ok", args=(1,))
        dag.add_job(value, name="child", args=(1,), depends_on=["bad", "ok"])
        dag.add_job(value, name="grandchild", args=(1,), depends_on="child")
        dag.add_job(value, name="great", args=(1,), depends_on=["grandchild"])
        dag.add_job(value, name="unrelated", args=(1,), depends_on="ok")
    assert dag.execute(timeout=20) is False
    status = {name: dag.get_job(name).status for name in dag.jobs}
    assert status == {
        "bad": JobStatus.FAILED, "ok": JobStatus.DONE, "child": JobStatus.SKIPPED,
        "grandchild": JobStatus.SKIPPED, "great": JobStatus.SKIPPED, "unrelated": JobStatus.DONE,
    }
    assert dag.status is DAGStatus.FAILED
    assert "skipped" in dag.get_job("grandchild").error


def test_any_child_runs_when_one_parent_fails_and_another_succeeds_later(mq):
    with DAG("any-late", queue=mq) as dag:
        dag.add_job(boom, name="bad", max_attempts=1, priority=90)  # fails first
        dag.add_job(record, name="good", args=("good",), priority=10)
        dag.add_job(record, name="either", args=("either",), depends_on=["bad", "good"],
                    dependency_mode="any")
    assert dag.execute(timeout=20) is False  # "bad" failed, so the run as a whole failed
    assert dag.get_job("either").status is JobStatus.DONE
    assert LOG == ["good", "either"]


def test_any_child_is_skipped_only_when_no_parent_can_succeed(mq):
    with DAG("any-dead", queue=mq) as dag:
        dag.add_job(boom, name="bad1", max_attempts=1)
        dag.add_job(boom, name="bad2", max_attempts=1)
        dag.add_job(value, name="ok", args=(1,))
        dag.add_job(value, name="none_left", args=(1,), depends_on=["bad1", "bad2"], dependency_mode="any")
        dag.add_job(value, name="after_none", args=(1,), depends_on="none_left")
        # an "any" grandchild with one living parent still runs
        dag.add_job(value, name="rescued", args=(1,), depends_on=["none_left", "ok"], dependency_mode="any")
        # an "any" child whose only other parent was skipped is skipped too
        dag.add_job(value, name="doomed", args=(1,), depends_on=["after_none", "bad1"], dependency_mode="any")
    assert dag.execute(timeout=20) is False
    status = {name: dag.get_job(name).status for name in dag.jobs}
    assert status["none_left"] is JobStatus.SKIPPED
    assert status["after_none"] is JobStatus.SKIPPED
    assert status["rescued"] is JobStatus.DONE
    assert status["doomed"] is JobStatus.SKIPPED


@pytest.mark.parametrize("last_parent_fails", [False, True])
def test_any_gating_survives_reopening_the_file(tmp_path, last_parent_fails):
    path = str(tmp_path / "any.duckdb")
    queue = DuckQueue(path)
    with DAG("any-reopen", queue=queue) as dag:
        bad = dag.add_job(boom, name="bad", max_attempts=1)
        last = dag.add_job(boom if last_parent_fails else value, name="last", max_attempts=1,
                           args=() if last_parent_fails else (1,))
        child = dag.add_job(value, name="child", args=("c",), depends_on=["bad", "last"], dependency_mode="any")
        grand = dag.add_job(value, name="grand", args=("g",), depends_on="child")
    Worker(queue, only=[bad]).run(burst=True)
    queue.close()
    queue = DuckQueue(path)  # the schedule is rebuilt from the file: "last" can still succeed
    assert queue.get_job(child).status is JobStatus.PENDING
    Worker(queue).run(burst=True)
    expected = JobStatus.SKIPPED if last_parent_fails else JobStatus.DONE
    assert queue.get_job(last).status is (JobStatus.FAILED if last_parent_fails else JobStatus.DONE)
    assert queue.get_job(child).status is expected
    assert queue.get_job(grand).status is expected
    queue.close()


def test_a_retried_parent_does_not_skip_its_children():
    queue = DuckQueue(retry_backoff=0)
    with DAG("flaky", queue=queue) as dag:
        dag.add_job(flaky, name="flaky", args=(str(uuid.uuid4()),), max_attempts=3)
        dag.add_job(sum_parents, name="child", depends_on="flaky")
    assert dag.execute(timeout=20)
    assert dag.get_job("flaky").attempts == 2
    assert dag.get_result("child") == 2
    queue.close()


_FLAKY_SEEN: set[str] = set()


def flaky(token, context):
    if token not in _FLAKY_SEEN:
        _FLAKY_SEEN.add(token)
        raise RuntimeError("first attempt fails")
    return context.attempt


# -- status, execute, wait ------------------------------------------------------------------------------


def test_status_follows_the_run_without_refresh(q):
    dag = DAG("watch", queue=q)
    dag.add_job(wait_for_gate, name="slow", args=("slow",))
    dag.add_job(value, name="after", args=(1,), depends_on="slow")
    assert dag.status is DAGStatus.PENDING  # not submitted
    dag.submit()
    assert dag.status is DAGStatus.PENDING  # nothing started
    assert dag.status == "pending"
    worker = Worker(q, concurrency=2)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        assert STARTED.wait(10)
        assert dag.status is DAGStatus.RUNNING
        assert dag.get_job("slow").status is JobStatus.CLAIMED
        assert '"slow (claimed)"' in dag.export_mermaid()
        assert '"after (pending)"' in dag.export_mermaid()
        GATE.set()
        assert dag.wait_for_completion(timeout=20)
        assert dag.status is DAGStatus.DONE
    finally:
        worker.stop()
        thread.join(10)


def test_status_is_running_between_tasks_and_failed_at_the_end(mq):
    with DAG("mixed", queue=mq) as dag:
        dag.add_job(value, name="a", args=(1,))
        dag.add_job(boom, name="b", depends_on="a", max_attempts=1)
    job = mq.claim()
    mq.ack(job, result=1)
    assert dag.status is DAGStatus.RUNNING  # a done, b waiting
    job = mq.claim()
    assert dag.status is DAGStatus.RUNNING
    mq.ack(job, error="no", )
    assert dag.status is DAGStatus.FAILED


def test_status_is_running_while_a_task_waits_for_its_retry():
    queue = DuckQueue(retry_backoff=30)
    with DAG("backoff", queue=queue) as dag:
        dag.add_job(boom, name="a", max_attempts=3)
    Worker(queue).run(burst=True)
    assert dag.get_job("a").status is JobStatus.DELAYED and dag.get_job("a").attempts == 1
    assert dag.status is DAGStatus.RUNNING
    queue.close()


def test_execute_runs_only_this_dags_jobs(q):
    plain = q.enqueue(value, args=("plain",))
    with DAG("other", queue=q) as other:
        other.add_job(value, name="x", args=(1,))
    with DAG("mine", queue=q) as mine:
        mine.add_job(value, name="a", args=(1,))
        mine.add_job(sum_parents, name="b", depends_on="a")
    assert mine.execute(timeout=20) is True
    assert mine.status is DAGStatus.DONE
    assert q.get_job(plain).status is JobStatus.PENDING
    assert other.get_job("x").status is JobStatus.PENDING
    assert other.status is DAGStatus.PENDING
    assert q.stats()["pending"] == 2 and q.stats()["done"] == 2


def test_execute_returns_false_on_failure(q):
    with DAG("fails", queue=q) as dag:
        dag.add_job(boom, name="a", max_attempts=1)
    assert dag.execute(timeout=20) is False
    assert dag.status is DAGStatus.FAILED


def test_execute_submits_when_needed_and_accepts_concurrency(mq):
    dag = DAG("auto", queue=mq)
    for i in range(8):
        dag.add_job(value, name=f"v{i}", args=(i,))
    dag.add_job(sum_parents, name="total", depends_on=[f"v{i}" for i in range(8)])
    assert not dag.submitted
    assert dag.execute(concurrency=3, timeout=20)
    assert dag.submitted and dag.get_result("total") == 28


def test_execute_timeout_returns_false_while_a_task_is_still_blocked(mq):
    with DAG("stuck", queue=mq) as dag:
        dag.add_job(wait_for_gate, name="slow", args=("slow",))
    worker = Worker(mq)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()  # another worker holds the only task
    try:
        assert STARTED.wait(10)
        assert dag.execute(timeout=0.5) is False
    finally:
        GATE.set()
        assert dag.wait_for_completion(timeout=20)
        worker.stop()
        thread.join(10)


def test_execute_timeout_bounds_the_call_even_when_its_own_task_overruns(mq):
    with DAG("overrun", queue=mq) as dag:
        dag.add_job(wait_for_gate, name="slow", args=("slow",))
        dag.add_job(record, name="after", args=("after",), depends_on="slow")
    # the gate stays closed until execute() has returned: it can only return by its timeout
    assert dag.execute(timeout=1.5) is False
    assert STARTED.is_set() and LOG == []
    assert dag.status is DAGStatus.RUNNING
    GATE.set()
    # the running task finishes in the background and is recorded; nothing further started
    for _ in range(200):
        if dag.get_job("slow").status is JobStatus.DONE:
            break
        time.sleep(0.02)
    assert dag.get_job("slow").status is JobStatus.DONE
    assert dag.get_job("after").status is JobStatus.PENDING
    assert dag.execute(timeout=20) is True  # a second call finishes the run
    assert LOG == ["slow", "after"]


@pytest.mark.parametrize("timeout", [None, 20])
def test_execute_raises_what_broke_the_run(mq, monkeypatch, timeout):
    with DAG("broken", queue=mq) as dag:
        dag.add_job(value, name="a", args=(1,))

    def broken_claim(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(mq._live_store(), "claim", broken_claim)
    with pytest.raises(RuntimeError, match="the disk is full"):
        dag.execute(timeout=timeout)
    monkeypatch.undo()
    assert dag.execute(timeout=20)


def test_wait_for_completion_while_a_worker_runs_in_another_thread(tmp_path):
    queue = DuckQueue(str(tmp_path / "wait.duckdb"))
    with DAG("waited", queue=queue) as dag:
        dag.add_job(sleepy, name="a", args=(0.05,))
        dag.add_job(sleepy, name="b", args=(0.05,), depends_on="a")
        dag.add_job(sum_parents, name="c", depends_on=["a", "b"])
    worker = Worker(queue, concurrency=2)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        assert dag.wait_for_completion(timeout=20, poll_interval=0.05) is True
        assert dag.get_result("c") == pytest.approx(0.1)
    finally:
        worker.stop()
        thread.join(10)
    queue.close()


def test_wait_for_completion_false_on_failure_and_on_timeout(mq):
    with DAG("w-fail", queue=mq) as failing:
        failing.add_job(boom, name="a", max_attempts=1)
    Worker(mq).run(burst=True)
    assert failing.wait_for_completion(timeout=5) is False
    with DAG("w-none", queue=mq) as idle:
        idle.add_job(value, name="a", args=(1,))
    assert idle.wait_for_completion(timeout=0.2, poll_interval=0.05) is False


def test_jobs_get_job_and_queue(q):
    with DAG("props", queue=q) as dag:
        a = dag.add_job(value, name="a", args=(1,))
        b = dag.add_job(value, name="b", args=(2,), depends_on="a")
    assert dag.jobs == {"a": a, "b": b}
    assert list(dag.jobs) == ["a", "b"]
    assert dag.queue is q
    job = dag.get_job("b")
    assert job.id == b and job.node_name == "b" and job.dag_run_id == dag.dag_run_id
    with pytest.raises(KeyError, match="its tasks: a, b"):
        dag.get_job("c")
    assert "props" in repr(dag)


# -- Mermaid -----------------------------------------------------------------------------------------------------


def test_mermaid_labels_nodes_by_name_and_draws_edges_between_them(mq):
    with DAG("pic", queue=mq) as dag:
        dag.add_job(value, name="extract", args=(1,))
        dag.add_job(boom, name="transform", depends_on="extract", max_attempts=1)
        dag.add_job(value, name="load", args=(1,), depends_on="transform")
    before = dag.export_mermaid()
    assert before.startswith("graph")
    assert '"extract (pending)"' in before
    dag.execute(timeout=20)
    text = dag.export_mermaid()
    ids = _mermaid_ids(text)
    assert set(ids) == {"extract", "transform", "load"}
    assert '"extract (done)"' in text and '"transform (failed)"' in text and '"load (skipped)"' in text
    edges = _mermaid_edges(text, ids)
    assert edges == {("extract", "transform"), ("transform", "load")}
    # edges never mention job ids
    for job_id in dag.jobs.values():
        assert job_id not in text


def test_mermaid_node_ids_stay_distinct_when_names_sanitise_alike(mq):
    dag = DAG("names", queue=mq)
    dag.add_job(value, name="a-b", args=(1,))
    dag.add_job(value, name="a b", args=(1,))
    dag.add_job(value, name="a_b", args=(1,), depends_on=["a-b"])
    dag.add_job(value, name='say "hi"', args=(1,), depends_on="a b")
    text = dag.export_mermaid()
    ids = _mermaid_ids(text)
    assert len(set(ids.values())) == 4
    assert _mermaid_edges(text, ids) == {("a-b", "a_b"), ("a b", 'say "hi"')}


def test_mermaid_edges_from_job_id_dependencies_use_names(mq):
    dag = DAG("byid", queue=mq)
    a = dag.add_job(value, name="a", args=(1,))
    dag.add_job(value, name="b", args=(1,), depends_on=a)
    text = dag.export_mermaid()
    assert _mermaid_edges(text, _mermaid_ids(text)) == {("a", "b")}


def _mermaid_ids(text: str) -> dict[str, str]:
    """{name: node id} from lines like    n0["name (status)"]"""
    ids = {}
    for line in text.splitlines():
        line = line.strip()
        if '["' in line and line.endswith('"]'):
            node_id, label = line.split('["', 1)
            name = label[:-2].rsplit(" (", 1)[0].replace("#quot;", '"')
            ids[name] = node_id
    return ids


def _mermaid_edges(text: str, ids: dict[str, str]) -> set[tuple[str, str]]:
    by_id = {v: k for k, v in ids.items()}
    edges = set()
    for line in text.splitlines():
        if "-->" in line:
            left, right = (part.strip() for part in line.split("-->"))
            edges.add((by_id[left], by_id[right]))
    return edges


# -- async tasks ----------------------------------------------------------------------------------------------


async def async_double(context):
    import asyncio

    from queuack import get_context

    await asyncio.sleep(0.01)
    assert get_context() is context
    return context.upstream("a") * 2


async def async_plain(x):
    import asyncio

    await asyncio.sleep(0)
    return x + 1


def test_async_tasks_run_with_the_context(q):
    with DAG("async", queue=q) as dag:
        dag.add_job(async_plain, name="a", args=(4,))
        dag.add_job(async_double, name="b", depends_on="a")
    assert dag.execute(timeout=20)
    assert dag.get_result("a") == 5
    assert dag.get_result("b") == 10


# -- queuack 0.1 code keeps running ------------------------------------------------------------------------


def readme_extract():
    return {"records": 1000}


def readme_transform(context):
    data = context.upstream("extract")
    return {"processed": data["records"] * 2}


def readme_load(context):
    result = context.upstream("transform")
    print(f"Loaded {result['processed']} records")
    return {"status": "success"}


def test_the_queuack_01_readme_pipeline_runs_unchanged(capsys):
    queue = DuckQueue(":memory:")
    dag = DAG("etl_pipeline", queue=queue)
    dag.add_node(readme_extract, name="extract")
    dag.add_node(readme_transform, name="transform", depends_on=["extract"])
    dag.add_node(readme_load, name="load", depends_on=["transform"])
    assert dag.execute() is True
    assert "Loaded 2000 records" in capsys.readouterr().out
    assert dag.get_result("load") == {"status": "success"}
    queue.close()


def test_queuack_01_dag_options_are_accepted(mq, capsys):
    with pytest.warns(DeprecationWarning, match="has no effect"):  # fail_fast and timing
        dag = DAG("options", mq, "a description", validate=True, fail_fast=False, timing=True)
    assert dag.description == "a description"
    dag.add_job(value, name="a", args=(1,))
    dag.add_job(boom, name="b", max_attempts=1)
    dag.add_job(value, name="c", args=(1,), depends_on="b")
    assert dag.progress == {"pending": 3, "claimed": 0, "done": 0, "failed": 0, "skipped": 0}
    assert not dag.is_complete()
    assert dag.execute(show_progress=True, poll_interval=0.5) is False
    assert "Complete: 1/3 succeeded, 1 failed, 1 skipped" in capsys.readouterr().out
    assert dag.is_complete()
    assert dag.progress == {"pending": 0, "claimed": 0, "done": 1, "failed": 1, "skipped": 1}
    rows = dag.get_jobs()
    assert [(r["name"], r["status"]) for r in rows] == [("a", "done"), ("b", "failed"), ("c", "skipped")]
    assert rows[0]["id"] == dag.jobs["a"] and rows[0]["completed_at"] is not None
    with pytest.raises(DAGValidationError), pytest.warns(DeprecationWarning):
        bad = DAG("bad", mq, validate=False)  # validate=False does not let an invalid DAG through
        bad.add_job(value, name="x", args=(1,), depends_on="missing")
        bad.submit()


def test_wait_for_completion_calls_back_with_progress(mq):
    seen = []
    with DAG("callback", queue=mq) as dag:
        dag.add_job(value, name="a", args=(1,))
        dag.add_job(value, name="b", args=(1,), depends_on="a")
    worker = Worker(mq)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        assert dag.wait_for_completion(timeout=20, poll_interval=0.01, callback=seen.append) is True
    finally:
        worker.stop()
        thread.join(10)
    assert seen and seen[-1]["done"] == 2
    assert all(set(p) == {"pending", "claimed", "done", "failed", "skipped"} for p in seen)

    def broken(progress):
        raise RuntimeError("display failed")

    assert dag.wait_for_completion(timeout=5, callback=broken) is True  # a failing callback is only logged


def test_an_empty_dag_submits_nothing_and_is_done(q):
    with DAG("nothing yet", queue=q) as dag:
        pass
    assert dag.submitted and dag.jobs == {} and dag.status is DAGStatus.DONE
    assert dag_rows(q, dag) == (0, 0, 1)  # the run is recorded, with no jobs
    assert dag.wait_for_completion(timeout=5) is True and dag.execute(timeout=5) is True
    assert dag.get_execution_order() == [] and q.stats()["pending"] == 0

    own = DAG("private and empty")  # a DAG that owns its queue: execute() submits, runs nothing
    assert own.execute(timeout=5) is True and own.status is DAGStatus.DONE
    with q.dag("the older builder") as old:
        pass
    assert old.status is DAGStatus.DONE


# -- retrying a failed node resumes the run ---------------------------------------------------------
FIXED: set[str] = set()


def broken_until_fixed(name):
    if name not in FIXED:
        raise RuntimeError(f"{name} is broken")
    return name


def test_retrying_a_failed_root_resumes_its_skipped_descendants(q):
    FIXED.clear()
    with DAG("resume", queue=q) as dag:
        dag.add_job(broken_until_fixed, args=("root",), name="root", max_attempts=1)
        dag.add_job(record, args=("left",), name="left", depends_on="root")
        dag.add_job(record, args=("right",), name="right", depends_on="root")
        dag.add_job(record, args=("join",), name="join", depends_on=["left", "right"], dependency_mode="any")
        dag.add_job(record, args=("other",), name="other")  # not below the root: unaffected
    Worker(q).run(burst=True)
    assert {n: dag.get_job(n).status.value for n in dag.jobs} == {
        "root": "failed", "left": "skipped", "right": "skipped", "join": "skipped", "other": "done"}

    FIXED.add("root")
    resumed = q.retry_dead_letter(dag.jobs["root"])
    assert sorted(resumed) == sorted(dag.jobs[n] for n in ("left", "right", "join"))
    assert {n: dag.get_job(n).status.value for n in ("root", "left", "right", "join")} == dict.fromkeys(
        ("root", "left", "right", "join"), "pending")
    Worker(q).run(burst=True)
    assert dag.status.value == "done"
    assert dag.get_job("join").error is None


def test_a_retry_leaves_skipped_what_another_failed_parent_still_blocks(q):
    FIXED.clear()
    with DAG("two-roots", queue=q) as dag:
        dag.add_job(broken_until_fixed, args=("a",), name="a", max_attempts=1)
        dag.add_job(broken_until_fixed, args=("b",), name="b", max_attempts=1)
        dag.add_job(record, args=("both",), name="both", depends_on=["a", "b"])
    Worker(q).run(burst=True)
    FIXED.update({"a", "b"})
    assert q.retry_dead_letter(dag.jobs["a"]) == []  # b still failed: both stays skipped
    assert dag.get_job("both").status.value == "skipped"
    assert q.retry_dead_letter(dag.jobs["b"]) == [dag.jobs["both"]]
    Worker(q).run(burst=True)
    assert dag.status.value == "done" and dag.get_result("both") == "both"


def test_a_retried_node_still_reads_its_parents(q):
    FIXED.clear()
    with DAG("reads", queue=q) as dag:
        dag.add_job(value, args=(7,), name="seven")
        dag.add_job(broken_until_fixed_reading, name="reader", depends_on="seven", max_attempts=1)
        dag.add_job(record, args=("after",), name="after", depends_on="reader")
    Worker(q).run(burst=True)
    FIXED.add("reader")
    q.retry_dead_letter(dag.jobs["reader"])
    Worker(q, concurrency=2).run(burst=True)
    assert dag.get_result("reader") == 7 and dag.status.value == "done"


def broken_until_fixed_reading(context):
    if "reader" not in FIXED:
        raise RuntimeError("reader is broken")
    return context.upstream("seven")
