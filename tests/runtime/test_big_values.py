"""Values too big to store: refused with a clear error, never stored cut short.

DuckDB keeps a BLOB's length in 32 bits. These tests lower the limit through its one constant;
the real 4 GiB case is measured by hand (see docs/RUNTIME.md) because it needs about 9 GB of RAM.
"""

from __future__ import annotations

import pytest

from queuack import DuckQueue, EnqueueError, JobNotDoneError, JobStatus, Worker, serialization

from . import jobfuncs

LIMIT = 10_000


@pytest.fixture(autouse=True)
def _small_limit(monkeypatch):
    monkeypatch.setattr(serialization, "MAX_VALUE_BYTES", LIMIT)


@pytest.mark.parametrize("concurrency", [1, 2])
def test_a_result_too_big_to_store_fails_the_job_and_is_never_marked_done(queue, concurrency):
    big = queue.enqueue(jobfuncs.make_bytes, args=(LIMIT + 1,), max_attempts=1)
    fits = queue.enqueue(jobfuncs.make_bytes, args=(LIMIT - 100,))
    Worker(queue, concurrency=concurrency).run(burst=True)

    record = queue.get_job(big)
    assert record.status == JobStatus.FAILED and record.result is None
    assert f"the most one stored value can hold is {LIMIT:,} bytes" in record.error
    assert "write it to a file and return the path" in record.error.lower()
    with pytest.raises(JobNotDoneError, match="failed for good"):
        queue.get_result(big)
    assert queue.get_result(fits) == b"x" * (LIMIT - 100)


def test_ack_by_hand_with_a_result_too_big_records_the_error(queue):
    job_id = queue.enqueue(jobfuncs.echo, args=(1,), max_attempts=1)
    job = queue.claim()
    queue.ack(job, result=b"x" * (LIMIT + 1))
    record = queue.get_job(job_id)
    assert record.status == JobStatus.FAILED and "bytes encoded" in record.error


@pytest.mark.parametrize("where", ["args", "kwargs", "batch"])
def test_arguments_too_big_are_refused_at_enqueue_and_nothing_is_stored(queue, where):
    payload = b"x" * (LIMIT + 1)
    with pytest.raises(EnqueueError) as caught:
        if where == "args":
            queue.enqueue(jobfuncs.echo, args=(payload,))
        elif where == "kwargs":
            queue.enqueue(jobfuncs.echo, kwargs={"value": payload})
        else:
            queue.enqueue_batch([(jobfuncs.echo, (1,), None), (jobfuncs.echo, (payload,), None)])
    message = str(caught.value)
    assert message.startswith("cannot enqueue") and "jobfuncs.echo" in message
    assert "bytes encoded" in message and "pass its path" in message
    assert queue.stats()["pending"] == 0


def test_a_function_object_carrying_too_much_data_is_refused(queue):
    import functools

    with pytest.raises(EnqueueError, match="bytes encoded"):
        queue.enqueue(functools.partial(jobfuncs.echo, b"x" * (LIMIT + 1)))


def test_postgres_refuses_what_one_statement_cannot_carry_and_sends_big_batches_in_parts(pg_queue_url, monkeypatch):
    # PostgreSQL closes the connection on a message over 1 GiB: before this limit, enqueue retried
    # for a minute and then blamed the server, and a worker stopped with its job left claimed
    from queuack import postgres

    pg_limit = LIMIT // 2  # under the DuckDB limit the autouse fixture sets
    monkeypatch.setattr(postgres, "MAX_STATEMENT_BYTES", pg_limit)
    queue = DuckQueue(pg_queue_url)
    try:
        with pytest.raises(EnqueueError, match="PostgreSQL carries at most 5,000 bytes") as caught:
            queue.enqueue(jobfuncs.echo, args=(b"x" * pg_limit,))
        assert "pass its path" in str(caught.value) and queue.stats()["pending"] == 0

        ids = queue.enqueue_batch([(jobfuncs.make_bytes, (pg_limit // 3,), None) for _ in range(5)]
                                  + [(jobfuncs.make_bytes, (pg_limit + 1,), {})])
        assert queue.stats()["pending"] == 6
        Worker(queue, concurrency=2).run(burst=True)
        for job_id in ids[:5]:
            assert queue.get_result(job_id) == b"x" * (pg_limit // 3)
        too_big = queue.get_job(ids[5])
        assert too_big.attempts == 1 and "the result is" in too_big.error
        assert "PostgreSQL carries at most" in too_big.error and too_big.result is None
    finally:
        queue.close()
