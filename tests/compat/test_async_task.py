"""queuack 0.1's @async_task: an async function usable as a task and as a plain call."""

from __future__ import annotations

import asyncio

from queuack import DAG, async_task


@async_task
async def fetch(n, context=None):
    await asyncio.sleep(0)
    upstream = context.upstream("seed") if context is not None and context.has_upstream("seed") else 0
    return n * 2 + upstream


def seed():
    return 100


def test_called_directly_it_runs_to_completion():
    assert fetch(3) == 6


def test_inside_a_running_loop_it_returns_the_coroutine_to_await():
    async def main():
        return await fetch(4)

    assert asyncio.run(main()) == 8


def test_as_a_dag_task_it_gets_its_context():
    with DAG("async") as dag:
        dag.add_node(seed, name="seed")
        dag.add_node(fetch, name="fetch", args=(1,), depends_on="seed")
    assert dag.execute(timeout=30)
    assert dag.get_result("fetch") == 102


def test_a_plain_function_is_left_as_it_is():
    def plain():
        return 1

    assert async_task(plain) is plain


def test_job_decorator_adds_delay():
    from queuack import DuckQueue, Worker, job

    q = DuckQueue()
    delayed = job(q, queue="mail", priority=70)(seed)
    job_id = delayed.delay()
    record = q.get_job(job_id)
    assert record.queue == "mail" and record.priority == 70
    Worker(q, queues=["mail"]).run(burst=True)
    assert q.get_result(job_id) == 100 and delayed() == 100
