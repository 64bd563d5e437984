"""The counts by queue and status (stats(), the dashboard's overview and /metrics) are kept as jobs
change instead of counted over the whole table: after every kind of change they must equal what a
GROUP BY over every stored row says, on every backend."""

from __future__ import annotations

import time

import pytest

from queuack import DAG, DuckQueue, JobStatus, Worker
from queuack.backend import RetryPolicy, counted

from . import jobfuncs
from .conftest import python_process


def scanned(queue: DuckQueue) -> dict[str, dict[str, int]]:
    """The counts as a GROUP BY over every row reads them (what the dashboard did before)."""
    store = queue._live_store()
    sql = ("SELECT queue, CASE WHEN status = 'pending' AND execute_after > {now} THEN 'delayed' ELSE status END, "
           "count(*) FROM {jobs} GROUP BY 1, 2")
    if hasattr(store, "url"):
        import psycopg

        with psycopg.connect(store.url) as conn:
            rows = conn.execute(sql.format(now="%s", jobs="queuack.jobs"), [time.time()]).fetchall()
    else:
        rows = store.query(sql.format(now="?", jobs="jobs"), [time.time()])
    return counted(rows)


def assert_exact(queue: DuckQueue) -> dict[str, dict[str, int]]:
    store = queue._live_store()
    kept = store.counts()
    assert kept == scanned(queue)
    assert store.overview().counts == kept
    assert store.queue_names() == sorted(kept)
    assert queue.stats() == {s.value: sum(c[s.value] for c in kept.values()) for s in JobStatus}
    return kept


def test_counts_stay_exact_through_every_change_of_a_job(queue):
    queue.retry_policy = RetryPolicy(base=0)  # a retried job is pending at once, not delayed for a moment
    assert assert_exact(queue) == {}
    queue.enqueue(jobfuncs.echo, args=(1,), queue="a")
    queue.enqueue(jobfuncs.echo, args=(2,), queue="a")
    queue.enqueue(jobfuncs.echo, args=(3,), queue="a", max_attempts=2)
    queue.enqueue(jobfuncs.echo, args=(4,), queue="a", delay_seconds=3600)
    queue.enqueue_batch([(jobfuncs.echo, (5,), {}), (jobfuncs.echo, (6,), {})], queue="b")
    assert assert_exact(queue)["a"] == {**dict.fromkeys(["pending", "claimed", "done", "failed", "skipped"], 0),
                                        "pending": 3, "delayed": 1}

    queue.ack(queue.claim("a"), result=1)  # done
    assert_exact(queue)
    retried = queue.claim("a")
    assert assert_exact(queue)["a"]["claimed"] == 1
    queue.ack(retried, error="boom")  # retried: pending again, its attempt counted
    assert_exact(queue)
    queue.nack(queue.claim("a"), requeue=True)  # released
    dead = queue.claim("a")
    queue.nack(dead, requeue=False)  # a dead letter
    assert assert_exact(queue)["a"]["failed"] == 1
    queue.retry_dead_letter(dead.id)
    assert assert_exact(queue)["a"]["failed"] == 0

    # a DAG whose root fails for good: its descendants are skipped, and come back with its retry
    with DAG("doomed", queue=queue) as dag:
        dag.add_job(jobfuncs.fail, name="root", queue="c", max_attempts=1)
        dag.add_job(jobfuncs.echo, name="child", args=(7,), queue="c", depends_on="root")
        dag.add_job(jobfuncs.echo, name="grandchild", args=(8,), queue="d", depends_on="child")
    Worker(queue, queues=["c"]).run(burst=True)
    assert (assert_exact(queue)["c"]["skipped"], queue.stats("d")["skipped"]) == (1, 1)
    assert queue.retry_dead_letter(dag.jobs["root"]) and queue.stats("d")["pending"] == 1
    assert_exact(queue)
    Worker(queue, queues=["c"]).run(burst=True)  # fails again, skipping them again
    assert assert_exact(queue)["c"] == {**dict.fromkeys(["pending", "claimed", "done", "delayed"], 0),
                                        "failed": 1, "skipped": 1}

    # a job that depends on a dead letter is skipped as it is enqueued
    queue.enqueue(jobfuncs.echo, args=(9,), queue="e", depends_on=[dag.jobs["root"]])
    assert assert_exact(queue)["e"]["skipped"] == 1

    with DAG("cancelled", queue=queue) as cancelled:
        cancelled.add_job(jobfuncs.echo, name="one", args=(10,), queue="f")
        cancelled.add_job(jobfuncs.echo, name="two", args=(11,), queue="f", depends_on="one")
    cancelled.cancel()
    assert assert_exact(queue)["f"]["skipped"] == 2

    Worker(queue, queues=["a", "b"], concurrency=2).run(burst=True)  # the Worker's group commits
    assert assert_exact(queue)["b"]["done"] == 2
    assert queue.purge(status=["done", "failed", "skipped"], older_than_hours=0) > 0
    kept = assert_exact(queue)
    assert set(kept) == {"a"} and kept["a"]["delayed"] == 1  # only the delayed job is left


def test_an_expired_lease_is_counted_as_it_ends(queue):
    queue.enqueue(jobfuncs.echo, args=(1,), max_attempts=1)
    queue.enqueue(jobfuncs.echo, args=(2,))
    assert queue.claim(claim_timeout=0.05) is not None  # its worker never answers
    time.sleep(0.1)
    assert queue.claim(claim_timeout=60) is not None  # a claim reclaims the expired lease first
    assert assert_exact(queue)["default"]["failed"] == 1


def test_counts_are_right_after_a_crash_and_the_replay_of_the_journals(db_path):
    with DuckQueue(db_path) as q:
        q.enqueue(jobfuncs.echo, args=(0,), queue="old")
        q.ack(q.claim("old"), result=0)
    process = python_process(f"""
import os
from queuack import DuckQueue
from runtime import jobfuncs
q = DuckQueue({db_path!r})
q.stats()  # counted now, kept from here on
for i in range(3):
    q.enqueue(jobfuncs.echo, args=(i,))  # journalled
q.ack(q.claim(), result=1)  # journalled
q.claim()  # running when the process dies
os._exit(0)
""")
    assert process.wait(timeout=120) == 0
    with DuckQueue(db_path) as q:
        kept = assert_exact(q)
        assert (kept["default"]["done"], kept["default"]["pending"], kept["old"]["done"]) == (1, 2, 1)


@pytest.mark.parametrize("target", ["file", "postgres"])
def test_a_copied_queue_counts_what_it_received(queue, target, tmp_path, request):
    from click.testing import CliRunner

    from queuack.cli import cli

    from .conftest import location

    queue.enqueue(jobfuncs.echo, args=(1,), queue="a")
    queue.enqueue(jobfuncs.fail, queue="b", max_attempts=1)
    queue.enqueue(jobfuncs.echo, args=(2,), queue="b")
    Worker(queue, queues=["b"]).run(burst=True)
    source = queue._live_store()
    if source.path == ":memory:":
        pytest.skip("queuack copy reads a file or a server")
    (tmp_path / "copy").mkdir()
    destination = location(request, target, tmp_path / "copy")
    if destination == source.path or getattr(source, "url", None) == destination:
        pytest.skip("the same queue")
    expected = assert_exact(queue)
    result = CliRunner().invoke(cli, ["copy", getattr(source, "url", source.path), destination])
    assert result.exit_code == 0, result.output
    with DuckQueue(destination) as copied:
        assert assert_exact(copied) == expected


def dag(queue: DuckQueue, name: str, *nodes: tuple) -> DAG:
    """A submitted DAG of (name, function, args, parent or None, queue name) nodes."""
    with DAG(name, queue=queue) as built:
        for node, func, args, parent, queue_name in nodes:
            built.add_job(func, name=node, args=args, depends_on=parent, queue=queue_name, max_attempts=1)
    return built


def assert_runs_exact(queue: DuckQueue) -> dict[str, int]:
    """run_status_counts against the statuses of every run with its jobs counted (list_runs)."""
    store = queue._live_store()
    listed: dict[str, int] = {}
    for run in store.list_runs(limit=10_000):
        listed[run.status] = listed.get(run.status, 0) + 1
    assert store.run_status_counts() == listed
    return listed


def test_dag_runs_by_status_stay_exact(queue):
    assert assert_runs_exact(queue) == {}
    dag(queue, "waits", ("a", jobfuncs.echo, (1,), None, "idle"), ("b", jobfuncs.echo, (2,), "a", "idle"))
    halfway = dag(queue, "halfway", ("a", jobfuncs.echo, (1,), None, "half"), ("b", jobfuncs.echo, (2,), "a", "idle"))
    dag(queue, "started", ("a", jobfuncs.echo, (1,), None, "started"))
    dag(queue, "done", ("a", jobfuncs.echo, (1,), None, "work"), ("b", jobfuncs.echo, (2,), "a", "work"))
    failed = dag(queue, "failed", ("a", jobfuncs.fail, (), None, "work"), ("b", jobfuncs.echo, (2,), "a", "work"),
                 ("c", jobfuncs.echo, (3,), None, "idle"))  # failed, though one job still waits
    dag(queue, "cancelled", ("a", jobfuncs.echo, (1,), None, "idle")).cancel()
    with DAG("empty", queue=queue):
        pass
    assert_runs_exact(queue)
    Worker(queue, queues=["work", "half"]).run(burst=True)
    assert queue.claim("started") is not None
    assert assert_runs_exact(queue) == {"pending": 1, "running": 2, "done": 2, "failed": 1, "cancelled": 1}
    assert halfway.status == "running"
    queue.retry_dead_letter(failed.jobs["a"])
    assert "failed" not in assert_runs_exact(queue)
    Worker(queue, queues=["work"]).run(burst=True)
    assert assert_runs_exact(queue)["failed"] == 1
    queue.purge(status=["done", "failed", "skipped"], older_than_hours=0)
    assert_runs_exact(queue)
