"""queuack 0.1's sub-DAGs (add_subdag, a factory passed to add_node), DAG runs that are cancelled,
and Mermaid colour schemes."""

from __future__ import annotations

import threading

import pytest

from queuack import (
    DAG,
    DAGRun,
    DAGRunStatus,
    DuckQueue,
    JobStatus,
    MermaidColorScheme,
    SubDAGError,
    Worker,
    generator_task,
)
from queuack.mermaid_colors import MermaidColorScheme as OldPath

ORDER: list[str] = []
GATE = threading.Event()
STARTED = threading.Event()


def step(name):
    ORDER.append(name)
    return name


def boom():
    raise RuntimeError("sub-DAG task broke")


def etl(queue):
    dag = DAG("etl", queue=queue)
    dag.add_node(step, name="extract", args=("extract",))
    dag.add_node(step, name="load", args=("load",), depends_on="extract")
    return dag


def nested(queue):
    dag = DAG("outer-sub", queue=queue)
    dag.add_subdag(etl, name="inner")
    return dag


def broken(queue):
    dag = DAG("broken")  # built without a queue: moved onto the queue it was given
    dag.add_node(boom, name="boom", max_attempts=1)
    return dag


def test_a_sub_dag_finishes_before_the_nodes_that_depend_on_it():
    ORDER.clear()
    with DAG("main") as dag:
        dag.add_node(step, name="first", args=("first",))
        dag.add_subdag(etl, name="etl_1", depends_on="first")
        dag.add_node(etl, name="etl_2", depends_on="first")  # a factory: detected as a sub-DAG
        dag.add_node(step, name="report", args=("report",), depends_on=["etl_1", "etl_2"])
    assert dag.execute(timeout=60)
    assert ORDER[0] == "first" and ORDER[-1] == "report" and ORDER.count("load") == 2
    subs = dag.run.get_subdags()
    assert [s.name for s in subs] == ["etl", "etl"]
    assert subs[0].get_parent_job() == dag.jobs["etl_1"] and dag.run.get_parent_job() is None
    assert dag.run.get_hierarchy()["subdags"][0]["status"] == "done"
    text = dag.export_mermaid()
    assert text.count("subgraph") == 2 and '"extract (done)"' in text
    assert "subgraph" not in dag.export_mermaid(include_subdags=False)


def test_sub_dags_nest_and_the_picture_stops_at_max_depth():
    with DAG("top") as dag:
        dag.add_subdag(nested, name="outer")
    assert dag.execute(timeout=60)
    assert dag.export_mermaid(max_depth=2).count("subgraph") == 2
    assert dag.export_mermaid(max_depth=1).count("subgraph") == 1


def test_a_failing_sub_dag_fails_its_node_and_skips_what_depends_on_it():
    with DAG("main-fail") as dag:
        dag.add_subdag(broken, name="sub")
        dag.add_node(step, name="after", args=("after",), depends_on="sub")
    assert dag.execute(timeout=60) is False
    job = dag.get_job("sub")
    assert job.status is JobStatus.FAILED and "SubDAGError" in job.error and "boom" in job.error
    assert dag.get_job("after").status is JobStatus.SKIPPED


def test_add_node_keeps_0_1s_argument_order():
    dag = DAG("order")
    dag.add_node(step, "a", "job", ("a",))  # func, name, kind, args
    dag.add_node(step, "b", None, ("b",), None, "a")  # ..., kwargs, depends_on
    assert dag.get_execution_order() == [["a"], ["b"]]
    with pytest.raises(ValueError, match="kind must be 'job', 'subdag' or None"):
        dag.add_node(step, "c", "a")


def wait_gate():
    STARTED.set()
    GATE.wait(20)
    return "ran"


def test_cancel_skips_what_has_not_started_and_lets_running_jobs_finish():
    GATE.clear()
    STARTED.clear()
    q = DuckQueue()
    with DAG("cancel-me", queue=q) as dag:
        dag.add_node(wait_gate, name="running")
        dag.add_node(step, name="next", args=("next",), depends_on="running")
        dag.add_node(step, name="other", args=("other",), depends_on="running")
    other = q.enqueue(step, args=("outside",), depends_on=dag.jobs["next"])  # depends on the run
    worker = Worker(q)
    thread = threading.Thread(target=worker.run, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        assert STARTED.wait(20)
        assert DAGRun(q, dag.dag_run_id).cancel() == 3
        assert dag.status is DAGRunStatus.CANCELLED
        GATE.set()
        assert dag.wait_for_completion(timeout=20, poll_interval=0.01) is False
    finally:
        worker.stop()
        thread.join(10)
    assert q.get_result(dag.jobs["running"]) == "ran"
    assert dag.get_job("next").status is JobStatus.SKIPPED
    assert "cancelled" in dag.get_job("next").error
    assert q.get_job(other).status is JobStatus.SKIPPED
    assert dag.status is DAGRunStatus.CANCELLED
    q.close()


@generator_task()
def rows():
    yield {"a": 1}


def test_colour_schemes_colour_nodes_by_status_and_kind():
    assert OldPath is MermaidColorScheme
    with DAG("colours") as dag:
        dag.add_node(step, name="ok", args=("ok",))
        dag.add_node(boom, name="bad", max_attempts=1)
        dag.add_node(rows, name="stream")
    dag.execute(timeout=30)
    dark = MermaidColorScheme.dark_mode()
    text = dag.export_mermaid(color_scheme=dark)
    assert f"classDef done fill:{dark.done}" in text and f"classDef failed fill:{dark.failed}" in text
    assert "classDef streaming" in text  # dark_mode colours streaming tasks
    assert "classDef streaming" not in dag.export_mermaid()  # the default does not
    for preset in ("default", "blue_professional", "dark_mode", "pastel", "high_contrast", "grayscale"):
        scheme = getattr(MermaidColorScheme, preset)()
        assert len(scheme.get_style_definitions()) >= 6
    assert MermaidColorScheme().get_status_class("claimed") == ":::running"
    custom = MermaidColorScheme(done="#2e7d32")
    assert "classDef done fill:#2e7d32" in dag.export_mermaid(color_scheme=custom)
    with pytest.raises(ValueError, match="must be a CSS colour"):
        MermaidColorScheme(done="red;stroke:0")


def test_a_sub_dag_run_by_hand_fails_with_0_1s_runtime_error():
    q = DuckQueue()
    dag = DAG("by-hand", queue=q)
    sub = dag.add_subdag(broken, name="sub")
    dag.submit()
    job = q.claim()
    with pytest.raises(RuntimeError, match="sub-DAG 'broken'"):  # 0.1 code caught RuntimeError
        job.execute()
    assert job.id == sub
