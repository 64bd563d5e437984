"""End-to-end pipelines: linear, fan-out/fan-in, diamond, conditional, large data passed by file
path, old-style (parent id and queue path wired by hand) and new-style tasks mixed in one DAG,
restarts, and a long-running worker. Real DuckDB queues, in memory and on files."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid

import pytest

from queuack import DAG, DAGStatus, DuckQueue, JobStatus, Worker, get_context

# -- linear ----------------------------------------------------------------------------------------------


def extract(n):
    return list(range(n))


def transform(context, factor=2):
    return [x * factor for x in context.upstream("extract")]


def load(context):
    rows = context.upstream("transform")
    return {"count": len(rows), "total": sum(rows), "run": context.dag_run_id}


@pytest.fixture
def q(queue):
    """The runtime tests' queue on every backend (conftest.py)."""
    return queue


def test_linear(q):
    with DAG("linear", queue=q) as dag:
        dag.add_job(extract, name="extract", args=(10,))
        dag.add_job(transform, name="transform", depends_on="extract", kwargs={"factor": 3})
        dag.add_job(load, name="load", depends_on="transform")
    assert dag.execute(timeout=30)
    assert dag.get_result("load") == {"count": 10, "total": 135, "run": dag.dag_run_id}
    assert dag.status is DAGStatus.DONE
    assert q.stats()["done"] == 3


def test_two_runs_of_the_same_dag_name_read_their_own_parents(q):
    dags = []
    for n in (3, 5):
        with DAG("linear", queue=q) as dag:
            dag.add_job(extract, name="extract", args=(n,))
            dag.add_job(transform, name="transform", depends_on="extract")
            dag.add_job(load, name="load", depends_on="transform")
        dags.append(dag)
    Worker(q, concurrency=2).run(burst=True)
    assert [d.get_result("load")["count"] for d in dags] == [3, 5]
    assert [d.get_result("load")["run"] for d in dags] == [d.dag_run_id for d in dags]


# -- fan-out / fan-in --------------------------------------------------------------------------------------


def split(n_chunks, size):
    return [list(range(i * size, (i + 1) * size)) for i in range(n_chunks)]


def square_chunk(index, context):
    chunk = context.upstream("split")[index]
    return index, sum(x * x for x in chunk)


def combine(context):
    parts = context.get_parent_results()
    return [index for index, _ in parts], sum(total for _, total in parts)


def test_fan_out_fan_in(q):
    chunks = 6
    with DAG("fan", queue=q) as dag:
        dag.add_job(split, name="split", args=(chunks, 100))
        # declared in reverse: combine must see them in this order, whatever order they finish in
        names = [f"square_{i}" for i in reversed(range(chunks))]
        for i in range(chunks):
            dag.add_job(square_chunk, name=f"square_{i}", args=(i,), depends_on="split")
        dag.add_job(combine, name="combine", depends_on=names)
    assert dag.execute(timeout=30, concurrency=3)
    order, total = dag.get_result("combine")
    assert order == list(reversed(range(chunks)))
    assert total == sum(x * x for x in range(chunks * 100))


def leaf(i, context):
    return i + len(context.get_parent_names())


def gather_all(context):
    return len(context.get_parent_results()), sum(context.get_parent_results())


def test_a_thousand_context_tasks_fan_out_and_in():
    with DAG("wide") as dag:
        dag.add_job(extract, name="extract", args=(1,))
        for i in range(1000):
            dag.add_job(leaf, name=f"leaf{i}", args=(i,), depends_on="extract")
        dag.add_job(gather_all, name="gather", depends_on=[f"leaf{i}" for i in range(1000)])
    assert dag.execute(timeout=60, concurrency=2)
    assert dag.get_result("gather") == (1000, sum(range(1000)) + 1000)
    assert dag.queue.stats()["done"] == 1002
    dag.close()


# -- diamond -------------------------------------------------------------------------------------------------


def source():
    return 10


def left(context):
    return context.upstream("source") + 1


def right(context):
    return context.upstream("source") * 2


def join(context):
    return {"left": context.upstream("left"), "right": context.upstream("right"),
            "names": context.get_parent_names()}


def test_diamond(q):
    with DAG("diamond", queue=q) as dag:
        dag.add_job(join, name="join", depends_on=["right", "left"])  # declared before its parents
        dag.add_job(source, name="source")
        dag.add_job(left, name="left", depends_on="source")
        dag.add_job(right, name="right", depends_on="source")
    assert dag.execute(timeout=30, concurrency=2)
    assert dag.get_result("join") == {"left": 11, "right": 20, "names": ["right", "left"]}
    text = dag.export_mermaid()
    assert text.count("-->") == 4 and text.count("(done)") == 4


# -- conditional --------------------------------------------------------------------------------------


def read_cache(hit):
    if not hit:
        raise LookupError("cache miss")
    return "cached"


def compute():
    return "computed"


def choose(context):
    # the cache is optional: take it when it succeeded, otherwise the computed value
    return context.upstream_or("cache", None) or context.upstream("compute")


def report(context):
    optional = context.upstream("detail") if context.has_upstream("detail") else "no detail"
    return f"{context.upstream('choose')} / {optional}"


@pytest.mark.parametrize("hit, expected", [(True, "cached"), (False, "computed")])
def test_conditional_with_an_optional_upstream(q, hit, expected):
    with DAG("conditional", queue=q) as dag:
        dag.add_job(read_cache, name="cache", args=(hit,), max_attempts=1)
        dag.add_job(compute, name="compute")
        dag.add_job(choose, name="choose", depends_on=["cache", "compute"], dependency_mode="any")
        dag.add_job(report, name="report", depends_on="choose")
    ok = dag.execute(timeout=30)
    assert dag.get_result("report") == f"{expected} / no detail"
    assert ok is hit  # a failed optional task still marks the run as failed
    assert dag.get_job("cache").status is (JobStatus.DONE if hit else JobStatus.FAILED)


def detail():
    return "details"


def test_conditional_branch_declared_only_when_wanted(q):
    with DAG("with-detail", queue=q) as dag:
        dag.add_job(compute, name="compute")
        dag.add_job(choose, name="choose", depends_on=["compute"])
        dag.add_job(detail, name="detail")
        dag.add_job(report, name="report", depends_on=["choose", "detail"])
    assert dag.execute(timeout=30)
    assert dag.get_result("report") == "computed / details"


# -- large data by file path ---------------------------------------------------------------------------


def produce(directory, mb):
    path = os.path.join(directory, "raw.bin")
    block = hashlib.sha256(b"seed").digest() * (1024 * 1024 // 32)
    with open(path, "wb") as f:
        for _ in range(mb):
            f.write(block)
    return path


def shard(index, shards, directory, context):
    raw = context.upstream("produce")
    size = os.path.getsize(raw)
    step = size // shards
    with open(raw, "rb") as f:
        f.seek(index * step)
        data = f.read(step if index < shards - 1 else size - index * step)
    out = os.path.join(directory, f"shard{index}.bin")
    with open(out, "wb") as f:
        f.write(data)
    return out


def digest(context):
    h = hashlib.sha256()
    sizes = []
    for path in context.get_parent_results():
        with open(path, "rb") as f:
            data = f.read()
        sizes.append(len(data))
        h.update(data)
    out = os.path.join(os.path.dirname(path), "summary.json")
    with open(out, "w") as f:
        json.dump({"sha256": h.hexdigest(), "sizes": sizes}, f)
    return out


def test_large_data_passed_by_file_path(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    queue = DuckQueue(str(tmp_path / "large.duckdb"))
    shards = 4
    with DAG("large", queue=queue) as dag:
        dag.add_job(produce, name="produce", args=(str(data_dir), 8))
        for i in range(shards):
            dag.add_job(shard, name=f"shard{i}", args=(i, shards, str(data_dir)), depends_on="produce")
        dag.add_job(digest, name="digest", depends_on=[f"shard{i}" for i in range(shards)])
    assert dag.execute(timeout=60, concurrency=2)
    summary = json.loads(open(dag.get_result("digest")).read())
    raw = (data_dir / "raw.bin").read_bytes()
    assert summary["sha256"] == hashlib.sha256(raw).hexdigest()
    assert sum(summary["sizes"]) == 8 * 1024 * 1024
    # only paths went through the queue, not the data
    biggest = queue._live_store().query("SELECT max(octet_length(result)) FROM jobs")[0][0]
    assert biggest < 1024
    queue.close()


# -- old style and new style in one DAG ---------------------------------------------------------------------


def new_extract():
    return {"rows": [1, 2, 3]}


def old_transform(parent_id, db_path):
    """queuack 0.1 style: the parent's id and the queue path are passed by hand."""
    queue = DuckQueue(db_path)
    try:
        data = queue.get_result(parent_id)
    finally:
        queue.close()
    return {"rows": [r * 10 for r in data["rows"]]}


def new_enrich(context):
    return {"rows": context.upstream("transform")["rows"], "by": context.task_name}


def old_load(transform_id, enrich_id, db_path):
    queue = DuckQueue(db_path)
    a = queue.get_result(transform_id)
    b = queue.get_result(enrich_id)
    queue.close()
    return sum(a["rows"]) + sum(b["rows"]), b["by"]


def new_report(context):
    total, by = context.upstream("load")
    helper_sees = get_context().upstream("transform")["rows"]
    return {"total": total, "by": by, "rows": helper_sees, "parents": context.get_parent_names()}


def _mixed_dag(queue, path):
    dag = DAG("mixed", queue=queue)
    e = dag.add_job(new_extract, name="extract")
    t = dag.add_job(old_transform, name="transform", args=(e, path), depends_on="extract")
    n = dag.add_job(new_enrich, name="enrich", depends_on="transform")
    dag.add_job(old_load, name="load", args=(t, n, path), depends_on=[t, n])
    dag.add_job(new_report, name="report", depends_on=["load", "transform"])
    return dag


@pytest.mark.parametrize("runner", ["execute", "worker-threads"])
def test_old_and_new_style_tasks_in_one_dag(tmp_path, runner):
    path = str(tmp_path / "mixed.duckdb")
    queue = DuckQueue(path)
    dag = _mixed_dag(queue, path)
    dag.submit()
    if runner == "execute":
        assert dag.execute(timeout=30)
    else:
        worker = Worker(queue, concurrency=3)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        try:
            assert dag.wait_for_completion(timeout=30)
        finally:
            worker.stop()
            thread.join(10)
    assert dag.get_result("report") == {"total": 120, "by": "enrich", "rows": [10, 20, 30],
                                        "parents": ["load", "transform"]}
    # the old tasks opened and closed their own DuckQueue: the worker's queue is untouched
    assert not queue.closed
    assert queue.stats()["done"] == 5
    queue.close()


# -- restarts and long-running workers ---------------------------------------------------------------------


def count_file(path):
    with open(path, "a") as f:
        f.write("x")
    return os.path.getsize(path)


def after_restart(context):
    return context.upstream("first"), context.get_parent_names()


def test_a_pipeline_resumes_after_the_file_is_reopened(tmp_path):
    path = str(tmp_path / "resume.duckdb")
    marker = str(tmp_path / "marker.txt")
    queue = DuckQueue(path)
    with DAG("resume", queue=queue) as dag:
        dag.add_job(count_file, name="first", args=(marker,))
        dag.add_job(after_restart, name="second", depends_on="first")
    first, second = dag.jobs["first"], dag.jobs["second"]
    Worker(queue, only=[first]).run(burst=True)
    queue.close()
    queue = DuckQueue(path)
    assert queue.get_job(second).status is JobStatus.PENDING
    Worker(queue).run(burst=True)
    assert queue.get_result(second) == (1, ["first"])
    assert open(marker).read() == "x"  # the finished task did not run again
    queue.close()


def flaky_step(token, context):
    seen = FLAKY.setdefault(token, 0)
    FLAKY[token] = seen + 1
    if seen == 0:
        raise ConnectionError("transient")
    return context.upstream("extract")[-1], context.attempt


FLAKY: dict[str, int] = {}


def test_a_retried_middle_task_feeds_its_children():
    queue = DuckQueue(retry_backoff=0)
    with DAG("retry", queue=queue) as dag:
        dag.add_job(extract, name="extract", args=(5,))
        dag.add_job(flaky_step, name="flaky", args=(str(uuid.uuid4()),), depends_on="extract")
        dag.add_job(gather_all_pairs, name="after", depends_on="flaky")
    assert dag.execute(timeout=30)
    assert dag.get_result("after") == [(4, 2)]
    queue.close()


def gather_all_pairs(context):
    return context.get_parent_results()


def test_several_dags_on_a_long_running_worker(tmp_path):
    queue = DuckQueue(str(tmp_path / "long.duckdb"))
    worker = Worker(queue, concurrency=2)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        dags = []
        for n in (2, 4, 6):
            with DAG(f"d{n}", queue=queue) as dag:
                dag.add_job(extract, name="extract", args=(n,))
                dag.add_job(transform, name="transform", depends_on="extract")
                dag.add_job(load, name="load", depends_on="transform")
            dags.append(dag)
        assert all(d.wait_for_completion(timeout=30) for d in dags)
        assert [d.get_result("load")["total"] for d in dags] == [2, 12, 30]
        assert all(d.status is DAGStatus.DONE for d in dags)
    finally:
        worker.stop()
        thread.join(10)
    queue.close()


def slow_value(x):
    import time

    time.sleep(0.005)
    return x


def test_several_dags_executed_at_once_from_threads():
    queue = DuckQueue()
    dags = []
    for k in range(3):
        dag = DAG(f"parallel{k}", queue=queue)
        for i in range(15):
            dag.add_job(slow_value, name=f"v{i}", args=(i + k,))
        dag.add_job(gather_all, name="sum", depends_on=[f"v{i}" for i in range(15)])
        dags.append(dag)
    outcomes = {}
    threads = [threading.Thread(target=lambda d=d: outcomes.__setitem__(d.name, d.execute(timeout=30, concurrency=2)))
               for d in dags]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes == {d.name: True for d in dags}
    assert [d.get_result("sum") for d in dags] == [(15, 105 + 15 * k) for k in range(3)]
    assert queue.stats()["done"] == 48
    queue.close()
