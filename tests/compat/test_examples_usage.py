"""Our own versions of what queuack 0.1's examples do (01_basic, 02_workers, 03_dag_workflows),
written against this package: each scenario is the usage an example demonstrates, checked by
what a user of it would look at."""

from __future__ import annotations

import time

from queuack import DAG, DependencyMode, DuckQueue, JobStatus, TaskContext, Worker

SEEN: list = []


def greet(name):
    SEEN.append(name)
    return f"Hello, {name}!"


def always_fails():
    raise ValueError("designed to fail")


def test_priorities_delays_and_batches(tmp_path):
    SEEN.clear()
    q = DuckQueue(str(tmp_path / "q.db"))
    q.enqueue(greet, args=("low",), priority=10)
    q.enqueue(greet, args=("high",), priority=90)
    later = q.enqueue(greet, args=("later",), delay_seconds=60)
    ids = q.enqueue_batch([(greet, (f"b{i}",), {}) for i in range(3)])
    assert q.stats()["delayed"] == 1 and len(ids) == 3
    Worker(q).run(burst=True)
    assert SEEN == ["high", "b0", "b1", "b2", "low"]  # higher priority first, FIFO within one
    assert q.get_job(later).status is JobStatus.DELAYED
    q.close()


def test_retries_without_backoff_reach_the_dead_letters_as_in_0_1():
    q = DuckQueue(retry_backoff=0)  # 0.1 re-claimed a failed job at once
    job = q.enqueue(always_fails, max_attempts=2)
    Worker(q).run(burst=True)
    assert q.get_job(job).status is JobStatus.FAILED and q.get_job(job).attempts == 2
    assert [j.id for j in q.list_dead_letters()] == [job]
    assert "designed to fail" in q.list_dead_letters()[0].error


def test_results_stats_and_purge():
    q = DuckQueue()
    ids = [q.enqueue(greet, args=(n,)) for n in ("a", "b")]
    Worker(q).run(burst=True)
    assert [q.get_result(i) for i in ids] == ["Hello, a!", "Hello, b!"]
    assert q.stats()["done"] == 2
    assert q.purge(status="done", older_than_hours=0) == 2


def test_claim_and_ack_by_hand():
    q = DuckQueue()
    q.enqueue(greet, args=("manual",))
    job = q.claim()
    q.ack(job.id, result=job.execute())
    assert q.get_result(job.id) == "Hello, manual!"


def test_context_manager_with_workers(tmp_path):
    with DuckQueue(str(tmp_path / "w.db"), workers_num=2, worker_concurrency=2) as q:
        ids = [q.enqueue(greet, args=(n,)) for n in ("Alice", "Bob", "Charlie")]
        deadline = time.monotonic() + 20
        while q.stats()["done"] < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sorted(q.get_result(i) for i in ids) == ["Hello, Alice!", "Hello, Bob!", "Hello, Charlie!"]


def fetch(source):
    return {"source": source, "rows": len(source)}


def combine(context: TaskContext):
    return sorted(r["source"] for r in context.get_parent_results())


def source_a():
    raise ConnectionError("Source A unavailable")


def use_any(context: TaskContext):
    for name in ("source_a", "source_b"):
        if context.has_upstream(name):
            return context.upstream(name)


def test_fan_out_fan_in_and_diamond():
    with DAG("fan") as dag:
        dag.add_node(fetch, name="start", args=("s",))
        for name in ("x", "yy", "zzz"):
            dag.add_node(fetch, name=name, args=(name,), depends_on="start")
        dag.add_node(combine, name="join", depends_on=["x", "yy", "zzz"])
        assert dag.get_execution_order() == [["start"], ["x", "yy", "zzz"], ["join"]]
        dag.submit()
        assert dag.wait_for_completion(poll_interval=0.01)
    assert dag.queue.get_result(dag.jobs["join"]) == ["x", "yy", "zzz"]


def test_conditional_execution_with_any():
    with DAG("conditional") as dag:
        dag.add_node(source_a, name="source_a", max_attempts=1)
        dag.add_node(fetch, name="source_b", args=("b",))
        dag.add_node(use_any, name="process", depends_on=["source_a", "source_b"],
                     dependency_mode=DependencyMode.ANY)
    assert dag.execute(poll_interval=0.01, timeout=30) is False  # source_a failed
    assert dag.get_result("process") == {"source": "b", "rows": 1}


def test_external_dependency_and_old_builder():
    q = DuckQueue()
    external = q.enqueue(fetch, args=("ext",))
    with q.dag("builder") as dag:
        dag.enqueue(combine, name="after", depends_on=external)
    Worker(q).run(burst=True)
    assert dag.get_result("after") == ["ext"]
