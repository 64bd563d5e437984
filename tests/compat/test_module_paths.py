"""queuack 0.1 import paths: thin re-exports of the runtime's own objects, never second copies."""

from __future__ import annotations

import pytest

import queuack
from queuack import DAG, DAGRun, DAGRunNotFoundError, DAGRunStatus, DuckQueue, Worker


def test_old_module_paths_give_the_same_objects():
    from queuack import constants, core, data_models, status
    from queuack.dag import DAGRun as dag_run

    assert core.DuckQueue is queuack.DuckQueue and core.Worker is queuack.Worker and core.DAG is queuack.DAG
    # what 0.1's core module had imported, and code imported from there
    assert core.DAGContext is queuack.DAGContext and core.Job is queuack.Job and core.JobStatus is queuack.JobStatus
    assert core.BackpressureError is queuack.BackpressureError
    assert data_models.TaskContext is queuack.TaskContext and data_models.Job is queuack.Job
    assert data_models.BackpressureError is queuack.BackpressureError
    assert data_models.get_context is queuack.get_context
    assert status.JobStatus is queuack.JobStatus and status.DependencyMode is queuack.DependencyMode
    assert status.DAGRunStatus is queuack.DAGRunStatus is queuack.DAGStatus
    assert dag_run is DAGRun
    assert constants.DEFAULT_PRIORITY == 50 and constants.BACKPRESSURE_BLOCK_THRESHOLD == 10000


def test_node_status_mapping():
    from queuack.status import JobStatus, NodeStatus, job_status_to_node_status, node_status_to_job_status

    assert job_status_to_node_status(JobStatus.CLAIMED) is NodeStatus.PENDING
    assert job_status_to_node_status(JobStatus.CLAIMED, claimed_started=True) is NodeStatus.RUNNING
    assert job_status_to_node_status(JobStatus.DELAYED) is NodeStatus.PENDING
    assert job_status_to_node_status("skipped") is NodeStatus.SKIPPED
    assert node_status_to_job_status(NodeStatus.READY) is JobStatus.PENDING
    assert node_status_to_job_status(NodeStatus.RUNNING) is JobStatus.CLAIMED
    with pytest.raises(ValueError, match="Unsupported JobStatus: 'invalid'"):
        job_status_to_node_status("invalid")


def step(x=None):
    return x


def test_execution_order_is_levels_of_the_topological_order():
    dag = DAG("levels")
    dag.add_node(step, name="load", depends_on=["t1", "t2"])  # names may come later
    dag.add_node(step, name="extract")
    dag.add_node(step, name="t1", depends_on="extract")
    dag.add_node(step, name="t2", depends_on="extract")
    assert dag.get_execution_order() == [["extract"], ["t1", "t2"], ["load"]]
    assert DAG("empty").get_execution_order() == []


def test_dag_run_reads_a_run_by_id():
    q = DuckQueue()
    with DAG("etl", queue=q) as dag:
        dag.add_node(step, name="a", args=(1,))
        dag.add_node(step, name="b", depends_on="a")
    run = DAGRun(q, dag.dag_run_id)
    assert run.get_status() is DAGRunStatus.PENDING and run.name == "etl"
    assert run.get_progress()["pending"] == 2 and not run.is_complete()
    Worker(q).run(burst=True)
    run.update_status()
    assert run.status is DAGRunStatus.DONE and run.is_complete()
    assert [j["name"] for j in run.get_jobs()] == ["a", "b"]
    assert dag.run.progress["done"] == 2
    with pytest.raises(DAGRunNotFoundError, match="no DAG run with id 'nope'"):
        DAGRun(q, "nope").get_status()
    with pytest.raises(ValueError):  # what 0.1 raised
        DAGRun(q, "nope").status


def test_dag_context_is_0_1s_builder_with_the_queue_first():
    from queuack import DAG, DAGContext, DuckQueue

    q = DuckQueue()
    assert isinstance(q.dag("built"), DAGContext)
    with DAGContext(q, "etl", description="nightly") as dag:
        dag.enqueue(len, args=("abc",), name="count")
    assert isinstance(dag, DAG) and dag.queue is q and dag.description == "nightly"
    assert dag.execute(timeout=30) and q.get_result(dag.jobs["count"]) == 3
