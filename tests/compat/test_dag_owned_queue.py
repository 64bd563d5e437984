"""queuack 0.1 usage: a DAG built without a queue runs its jobs when it is waited for.

The original's examples build `with DAG("name") as dag:` (no queue), submit, and call
`dag.wait_for_completion()`; its private queue ran them on a background worker.
"""

from __future__ import annotations

import pytest

from queuack import DAG, DAGNotSubmittedError, DAGStatus

RAN: list[str] = []


def extract():
    RAN.append("extract")
    return {"records": 3}


def transform(context):
    RAN.append("transform")
    return context.upstream("extract")["records"] * 2


def fail():
    raise ValueError("broken on purpose")


def test_wait_inside_the_block_runs_the_jobs_of_a_dag_that_owns_its_queue():
    RAN.clear()
    with DAG("owned") as dag:
        dag.add_node(extract, name="extract")
        dag.add_node(transform, name="transform", depends_on="extract")
        dag.submit()
        assert dag.wait_for_completion(poll_interval=0.01) is True
    assert RAN == ["extract", "transform"]
    assert dag.status is DAGStatus.DONE
    assert dag.queue.get_result(dag.jobs["transform"]) == 6


def test_wait_after_the_block_runs_them_too_and_reports_progress():
    seen = []
    with DAG("owned-after") as dag:
        dag.add_node(extract, name="extract")
    assert dag.wait_for_completion(poll_interval=0.01, callback=seen.append) is True
    assert seen[-1]["done"] == 1


def test_wait_on_an_owned_dag_that_fails_returns_false():
    with DAG("owned-fail") as dag:
        dag.add_node(fail, name="fail", max_attempts=1)
        dag.add_node(extract, name="after", depends_on="fail")
    assert dag.wait_for_completion(poll_interval=0.01) is False
    assert dag.status is DAGStatus.FAILED


def test_wait_before_submit_is_a_clear_error_not_an_endless_wait():
    dag = DAG("not-yet")
    dag.add_node(extract, name="extract")
    with pytest.raises(DAGNotSubmittedError, match=r"call dag.submit\(\) first"):
        dag.wait_for_completion(timeout=0.1)
    with pytest.raises(RuntimeError):  # what queuack 0.1 raised
        dag.wait_for_completion()


def test_a_dag_on_another_dags_private_queue_runs_when_waited_for():
    with DAG("owner") as owner:
        dag = DAG("guest", queue=owner.queue)
        dag.add_node(extract, name="extract")
        dag.submit()
        assert dag.wait_for_completion(timeout=20, poll_interval=0.01)


def test_an_external_parent_on_the_private_queue_runs_too():
    with DAG("external") as dag:
        outside = dag.queue.enqueue(extract)
        dag.add_node(transform_outside, name="after", depends_on=outside)
        dag.submit()
        assert dag.wait_for_completion(timeout=20, poll_interval=0.01)


def transform_outside():
    return "after"


def test_submit_logs_the_dag_and_its_job_count_at_info(caplog):
    import logging

    caplog.set_level(logging.INFO, logger="queuack")
    dag = DAG("logged")
    dag.add_job(len, name="a", args=("x",))
    dag.add_job(len, name="b", args=("y",))
    run_id = dag.submit()
    assert f"submitted DAG 'logged' (run {run_id}): 2 jobs" in caplog.messages
