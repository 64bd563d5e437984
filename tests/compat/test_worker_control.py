"""queuack 0.1's ways of driving a Worker and a DAG: should_stop, run(poll_interval) by position,
and its positional argument orders, which are either kept or refused, never misread."""

from __future__ import annotations

import os
import threading
import time

import pytest

from queuack import DAG, DuckQueue, QueuackError, Worker


def double(x):
    return x * 2


def test_should_stop_set_from_another_thread_ends_run():
    q = DuckQueue()
    worker = Worker(q)
    assert worker.should_stop is False
    thread = threading.Thread(target=worker.run, args=(0.01,))  # 0.1's run(poll_interval)
    thread.start()
    job = q.enqueue(double, args=(4,))
    deadline = time.monotonic() + 20
    while q.get_job(job).status != "done" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert thread.is_alive()  # a positional number is a poll interval: it keeps polling
    worker.should_stop = True
    thread.join(10)
    assert not thread.is_alive() and q.get_result(job) == 8


def test_should_stop_before_run_makes_that_run_return_at_once():
    q = DuckQueue()
    q.enqueue(double, args=(1,))
    worker = Worker(q)
    worker.should_stop = True
    assert worker.run() == 0
    assert worker.run(burst=True) == 1  # the next run works again


def test_worker_id_in_0_1s_third_position_is_refused_clearly():
    q = DuckQueue()
    with pytest.raises(TypeError, match=r"pass it by keyword, Worker\(q, worker_id=...\)"):
        Worker(q, ["default"], "worker-1")
    with pytest.raises(TypeError, match="burst must be True or False"):
        Worker(q).run("fast")


def test_dag_execute_refuses_a_positional_number():
    with DAG("pos") as dag:
        dag.add_node(double, name="a", args=(1,))
    with pytest.raises(TypeError, match="keyword arguments only"):
        dag.execute(0.5)
    assert dag.execute(poll_interval=0.01, timeout=20)


def test_0_1_dag_options_without_effect_warn():
    with pytest.warns(DeprecationWarning, match=r"DAG\(timing=True\) has no effect"):
        DAG("t", timing=True)
    with pytest.warns(DeprecationWarning, match=r"DAG\(fail_fast=False\) has no effect"):
        DAG("t", fail_fast=False)
    with pytest.warns(DeprecationWarning, match=r"with_timing\(\) has no effect"):
        dag = DAG("t").with_timing()
    assert isinstance(dag, DAG)


def _use_in_fork_child(q, pipe):
    try:
        q.stats()
        pipe.send("no error")
    except QueuackError as exc:
        pipe.send(str(exc))


def test_a_queue_used_in_a_forked_child_says_so(tmp_path):
    # 0.1's Flask example ran Worker(queue).run() in a multiprocessing.Process: the child sat idle
    import multiprocessing

    q = DuckQueue(str(tmp_path / "parent.db"))
    receive, send = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=_use_in_fork_child, args=(q, send))
    child.start()
    message = receive.recv()
    child.join(30)
    assert f"was opened in process {os.getpid()}" in message and "is a fork of it" in message
    assert q.stats()["pending"] == 0  # the parent's queue is untouched
    q.close()
