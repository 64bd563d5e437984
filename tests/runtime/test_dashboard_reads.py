"""What the dashboard reads from a backend: the overview, pages of jobs, DAG runs and a run's graph,
on every backend (DuckDB in memory and on a file, PostgreSQL)."""

from __future__ import annotations

from queuack import DAG, Worker
from queuack.backend import JobFilter

from .jobfuncs import add, echo, fail

ADD, ECHO = f"{add.__module__}.add", f"{echo.__module__}.echo"


def test_overview_counts_by_queue_and_status_throughput_and_oldest_pending(queue):
    first = queue.enqueue(echo, args=(1,), queue="a")
    queue.enqueue(echo, args=(2,), queue="a")
    queue.enqueue(fail, queue="b", max_attempts=1)
    Worker(queue, queues=["b"]).run(burst=True)
    view = queue._live_store().overview()
    assert view.counts["a"]["pending"] == 2 and view.counts["b"]["failed"] == 1
    assert (view.done_recently, view.failed_recently) == (0, 1)
    assert view.oldest_pending[0] == first


def test_jobs_are_listed_newest_first_a_page_at_a_time_and_filtered(queue):
    ids = [queue.enqueue(echo, args=(i,), queue="even" if i % 2 == 0 else "odd") for i in range(7)]
    queue.enqueue(add, args=(1, 2), queue="odd")
    store = queue._live_store()
    page = store.list_jobs(JobFilter(), limit=3)
    assert [j["function"] for j in page] == [ADD, ECHO, ECHO]
    following = store.list_jobs(JobFilter(), before_seq=page[-1]["seq"], limit=3)
    assert [j["id"] for j in following] == ids[::-1][2:5]
    assert [j["id"] for j in store.list_jobs(JobFilter(queue="even"))] == ids[::-2]
    assert [j["id"] for j in store.list_jobs(JobFilter(function=ECHO, queue="odd"))] \
        == [ids[5], ids[3], ids[1]]
    Worker(queue, queues=["even"]).run(burst=True)
    assert {j["id"] for j in store.list_jobs(JobFilter(status="done"))} == set(ids[::2])
    assert {j["id"] for j in store.list_jobs(JobFilter(status="pending"))} == set(ids[1::2]) | {
        store.list_jobs(JobFilter(function=ADD))[0]["id"]}


def test_dag_runs_with_progress_and_a_runs_graph(queue):
    with DAG("etl", queue=queue) as dag:
        dag.add_job(echo, name="extract", args=(1,))
        dag.add_job(fail, name="transform", depends_on="extract", max_attempts=1)
        dag.add_job(echo, name="load", args=(2,), depends_on="transform")
    with DAG("later", queue=queue) as later:
        later.add_job(echo, name="only", args=(3,))
    dag.execute(timeout=20)
    store = queue._live_store()
    runs = store.list_runs()
    assert [r.name for r in runs] == ["later", "etl"]
    assert runs[0].status == "pending" and runs[0].counts == {"pending": 1}
    etl = next(r for r in runs if r.name == "etl")
    assert etl.counts == {"done": 1, "failed": 1, "skipped": 1} and etl.status == "failed"
    assert (etl.finished, etl.total) == (3, 3)
    graph = store.run_graph(dag.dag_run_id)
    assert [(n["node_name"], n["status"]) for n in graph.nodes] == [
        ("extract", "done"), ("transform", "failed"), ("load", "skipped")]
    ids = {n["node_name"]: n["id"] for n in graph.nodes}
    assert graph.edges == [(ids["transform"], ids["extract"]), (ids["load"], ids["transform"])]
    assert "boom" in graph.nodes[1]["error"]
    assert store.run_graph("no-such-run") is None
    assert [r.name for r in store.list_runs(before=etl.created_at)] == []


def test_the_ready_job_first_in_line_is_the_one_a_worker_takes_next(queue):
    with DAG("waits", queue=queue) as dag:
        dag.add_job(echo, name="parent", args=(1,), queue="a", priority=1)
        dag.add_job(echo, name="child", args=(2,), queue="a", priority=99, depends_on="parent")  # not ready
    urgent = queue.enqueue(echo, args=(3,), queue="b", priority=90)
    queue.enqueue(echo, args=(4,), queue="b", priority=99, delay_seconds=3600)  # not due
    store = queue._live_store()
    assert store.overview().oldest_pending[0] == urgent
    assert queue.claim("b").id == urgent
    assert store.overview().oldest_pending[0] == dag.jobs["parent"]  # a claimed job waits no more
