"""DuckQueue.conn for reading, and the behaviour gaps of issue 12's item 13."""

from __future__ import annotations

import time

import duckdb
import pytest

from queuack import DAG, DAGRun, DuckQueue, JobNotFoundError, JobTimeoutError, Worker


def value(x):
    return x


def fail():
    raise ValueError("no luck")


def slow():
    time.sleep(5)


def test_conn_reads_the_same_database_and_sees_every_enqueue(tmp_path):
    for q in (DuckQueue(), DuckQueue(str(tmp_path / "q.db"))):
        job = q.enqueue(value, args=(1,))
        assert q.conn.execute("SELECT status FROM jobs WHERE id = ?", [job]).fetchall() == [("pending",)]
        Worker(q).run(burst=True)
        assert q.conn.execute("SELECT count(*) FROM jobs WHERE status = 'done'").fetchone() == (1,)
        q.close()


def chooser(context):
    return "primary" if context.has_upstream("primary") else context.upstream("backup")


def test_has_upstream_is_false_for_a_parent_that_failed():
    with DAG("any") as dag:
        dag.add_node(fail, name="primary", max_attempts=1)
        dag.add_node(value, name="backup", args=("backup",))
        dag.add_node(chooser, name="choose", depends_on=["primary", "backup"], dependency_mode="any")
    dag.execute(timeout=30)
    assert dag.get_result("choose") == "backup"


def test_job_execute_honours_timeout_seconds():
    q = DuckQueue()
    q.enqueue(slow, timeout_seconds=0.2)
    job = q.claim()
    started = time.monotonic()
    with pytest.raises(JobTimeoutError, match="timed out after 0.2s"):
        job.execute()
    assert time.monotonic() - started < 4


def test_unknown_ids_raise_instead_of_returning_none():
    q = DuckQueue()
    with pytest.raises(JobNotFoundError):
        q.get_job("nope")
    with pytest.raises(KeyError):  # a KeyError too, for code that caught that
        q.get_job("nope")


def test_empty_dag_is_done_at_once():
    with DAG("empty") as dag:
        pass
    assert dag.execute(timeout=5) and dag.get_execution_order() == []


def test_a_version_1_file_gains_the_dag_run_columns(tmp_path):
    path = str(tmp_path / "old.db")
    DuckQueue(path).close()
    conn = duckdb.connect(path)  # make it look like a file written before sub-DAG links existed
    conn.execute("ALTER TABLE queuack.dag_runs DROP COLUMN parent_job_id")
    conn.execute("ALTER TABLE queuack.dag_runs DROP COLUMN cancelled_at")
    conn.execute("UPDATE queuack.meta SET value = '1' WHERE key = 'schema_version'")
    conn.close()
    q = DuckQueue(path)
    with DAG("after-upgrade", queue=q) as dag:
        dag.add_node(value, name="a", args=(1,))
    assert DAGRun(q, dag.dag_run_id).cancel() == 1 and DAGRun(q, dag.dag_run_id).get_parent_job() is None
    q.close()


def test_0_1_exception_types_still_catch_the_errors(tmp_path):
    from queuack import DAGAlreadySubmittedError, StreamReader, StreamWriter

    q = DuckQueue()
    with pytest.raises(ValueError):  # 0.1's get_result raised ValueError for both
        q.get_result("nope")
    job = q.enqueue(value, args=(1,))
    with pytest.raises(ValueError, match="has no result"):
        q.get_result(job)
    dag = DAG("d", queue=q)
    dag.submit()
    with pytest.raises(RuntimeError):
        dag.add_job(value, name="late", args=(1,))
    assert isinstance(DAGAlreadySubmittedError("x"), ValueError)
    assert DAG("v").validate() == []
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"\x80\x04\x95garbage")
    with pytest.raises(ValueError, match="Corrupted pickle file"):
        list(StreamReader(bad))
    assert StreamWriter(tmp_path / "deep" / "er" / "x.jsonl").write([1]) == 1


def test_a_context_built_from_a_queue_path_opens_that_queue_on_first_use(tmp_path):
    from queuack import TaskContext

    path = str(tmp_path / "ctx.db")
    q = DuckQueue(path)
    job = q.enqueue(value, args=(3,))
    ctx = TaskContext(job_id="j", queue_path=path, dag_run_id="run")
    assert (ctx.job_id, ctx.queue_path, ctx.dag_run_id) == ("j", path, "run")
    with ctx:
        assert ctx.queue.get_job(job).status == "pending"
    assert ctx.queue.get_job(job).status == "pending"  # reopened after close, like 0.1's lazy queue
    ctx.close()
    q.get_job(job)  # the caller's queue is untouched
    q.close()


def test_0_1_error_messages_keep_the_words_its_callers_matched():
    # 0.1's own tests (and code that matched on the text) looked for these words
    q = DuckQueue()
    with pytest.raises(ValueError, match="not found"):
        q.get_result("nope")
    with pytest.raises(ValueError, match="not done"):
        q.get_result(q.enqueue(value, args=(1,)))
    with pytest.raises(ValueError, match="not picklable"):
        q.enqueue(lambda x: x + 1, args=(1,))
