"""DuckQueue: sharing a file, validation at enqueue, ordering, leases, acks, reading and upkeep.

Real DuckDB throughout, in memory and on files. Job functions come from runtime/jobfuncs.py.
"""

from __future__ import annotations

import os
import threading
import time

import duckdb
import pytest

from queuack import (
    DAGValidationError,
    DatabaseLockedError,
    DuckQueue,
    EnqueueError,
    JobNotDoneError,
    JobNotFoundError,
    JobStatus,
    QueuackError,
)

from . import jobfuncs
from .conftest import python_process

STATUSES = {"pending", "claimed", "done", "failed", "delayed", "skipped"}


def total(q: DuckQueue) -> int:
    return sum(q.stats().values())


def test_none_for_the_path_is_an_in_memory_queue(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with DuckQueue(None) as q:
        q.enqueue(jobfuncs.add, args=(1, 2))
        assert q.stats()["pending"] == 1
    assert os.listdir(tmp_path) == []


# -- one file, several handles, several processes ---------------------------------------------------
def test_two_queues_on_one_file_share_data_and_close_independently(db_path):
    first = DuckQueue(db_path)
    second = DuckQueue(db_path)
    job_id = first.enqueue(jobfuncs.add, args=(1, 2))
    assert second.get_job(job_id).status == JobStatus.PENDING
    claimed = second.claim()
    assert claimed.id == job_id
    assert first.get_job(job_id).status == JobStatus.CLAIMED
    second.ack(claimed, result=3)
    second.close()
    # the first handle keeps working after the second one closed
    assert first.get_result(job_id) == 3
    other = first.enqueue(jobfuncs.echo, args=("x",))
    assert first.stats()["pending"] == 1
    first.close()
    with DuckQueue(db_path) as reopened:  # and everything is on disk
        assert reopened.get_result(job_id) == 3
        assert reopened.get_job(other).status == JobStatus.PENDING


def test_relative_and_absolute_paths_share_one_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with DuckQueue("rel.duckdb") as relative, DuckQueue(str(tmp_path / "rel.duckdb")) as absolute:
        job_id = relative.enqueue(jobfuncs.echo, args=(1,))
        assert absolute.get_job(job_id).id == job_id


def test_a_closed_handle_says_so(db_path):
    q = DuckQueue(db_path)
    q.close()
    q.close()  # closing twice is harmless
    with pytest.raises(QueuackError, match="closed"):
        q.enqueue(jobfuncs.echo, args=(1,))


def test_second_process_gets_database_locked_error_naming_the_file(db_path):
    DuckQueue(db_path).close()
    holder = python_process(
        "import sys\nfrom queuack import DuckQueue\n"
        f"q = DuckQueue({db_path!r})\nprint('ready', flush=True)\nsys.stdin.readline()\nq.close()\n",
        stdin=-1, stdout=-1, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(DatabaseLockedError) as caught:
            DuckQueue(db_path)
        assert db_path in str(caught.value)
        assert f"PID {holder.pid}" in str(caught.value)
        assert caught.value.path == db_path
    finally:
        holder.communicate("\n", timeout=30)
    assert holder.returncode == 0
    with DuckQueue(db_path) as q:  # free again once the holder has gone
        assert total(q) == 0


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n")
    with pytest.raises(QueuackError, match="notes.txt"):
        DuckQueue(str(path))
    assert path.read_text() == "not a database\n"


# -- validation at enqueue ------------------------------------------------------------------------
def nested_factory():
    def nested(x):
        return x

    return nested


@pytest.mark.parametrize(
    "func, args, kwargs, message",
    [
        (lambda x: x, (1,), None, "<lambda>"),
        (nested_factory(), (1,), None, "nested"),
        (jobfuncs.echo, (threading.Lock(),), None, "runtime.jobfuncs.echo"),
        (jobfuncs.echo, (), {"value": threading.Lock()}, "runtime.jobfuncs.echo"),
        (jobfuncs.echo, "abc", None, "must be a tuple or list"),
        (jobfuncs.echo, (), ["value"], "must be a dict"),
        ("not a function", (), None, "not callable"),
    ],
)
def test_enqueue_refuses_what_a_worker_could_not_run(queue, func, args, kwargs, message):
    with pytest.raises(EnqueueError, match=message.replace(".", r"\.")):
        queue.enqueue(func, args=args, kwargs=kwargs)
    assert total(queue) == 0


@pytest.mark.parametrize(
    "options, message",
    [
        ({"priority": "high"}, "priority"),
        ({"priority": 1.5}, "priority"),
        ({"priority": True}, "priority"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": "3"}, "max_attempts"),
        ({"delay_seconds": -1}, "delay_seconds"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"dependency_mode": "some"}, "dependency_mode"),
    ],
)
def test_enqueue_refuses_bad_options_naming_the_function(queue, options, message):
    with pytest.raises(EnqueueError) as caught:
        queue.enqueue(jobfuncs.add, args=(1, 2), **options)
    assert message in str(caught.value)
    assert "runtime.jobfuncs.add" in str(caught.value)
    assert total(queue) == 0


def test_enqueue_refuses_unknown_keywords(queue):
    with pytest.raises(TypeError, match="priorty"):
        queue.enqueue(jobfuncs.add, args=(1, 2), priorty=5)
    with pytest.raises(TypeError, match="max_attempt"):
        queue.enqueue_batch([(jobfuncs.add, (1, 2), None)], max_attempt=2)
    assert total(queue) == 0


def test_enqueue_batch_is_all_or_nothing(queue):
    good = (jobfuncs.add, (1, 2), None)
    with pytest.raises(EnqueueError, match="<lambda>"):
        queue.enqueue_batch([good, good, (lambda: 1, (), None), good])
    with pytest.raises(EnqueueError, match="runtime.jobfuncs.echo"):
        queue.enqueue_batch([good, (jobfuncs.echo, (threading.Lock(),), None)])
    with pytest.raises(EnqueueError, match="item 1"):
        queue.enqueue_batch([good, (jobfuncs.add, (1,), {}, "extra")])
    with pytest.raises(EnqueueError, match="max_attempts"):
        queue.enqueue_batch([good], max_attempts=0)
    assert total(queue) == 0
    ids = queue.enqueue_batch([good, (jobfuncs.echo, ("x",)), jobfuncs.unpicklable_result])
    assert len(set(ids)) == 3
    assert queue.stats()["pending"] == 3
    assert queue.enqueue_batch([]) == []


def test_enqueue_with_a_missing_dependency_stores_nothing(queue):
    parent = queue.enqueue(jobfuncs.echo, args=(1,))
    with pytest.raises(DAGValidationError, match="no-such-job"):
        queue.enqueue(jobfuncs.echo, args=(2,), depends_on=[parent, "no-such-job"])
    assert total(queue) == 1
    assert [j.id for j in queue.claim_batch(10)] == [parent]


def test_child_waits_for_its_parent_and_runs_after_it(queue):
    parent = queue.enqueue(jobfuncs.echo, args=(1,))
    child = queue.enqueue(jobfuncs.echo, args=(2,), depends_on=parent)
    job = queue.claim()
    assert job.id == parent
    assert queue.claim() is None  # the child is not ready while its parent runs
    queue.ack(job, result=1)
    assert queue.claim().id == child


def test_child_of_a_failed_parent_is_skipped(queue):
    parent = queue.enqueue(jobfuncs.echo, args=(1,), max_attempts=1)
    child = queue.enqueue(jobfuncs.echo, args=(2,), depends_on=parent)
    queue.ack(queue.claim(), error="broken")
    assert queue.get_job(child).status == JobStatus.SKIPPED
    assert queue.stats()["skipped"] == 1
    assert queue.claim() is None


# -- ordering ---------------------------------------------------------------------------------------
def test_higher_priority_first_and_fifo_within_a_priority(queue):
    order = [(10, "a"), (90, "b"), (50, "c"), (90, "d"), (10, "e"), (50, "f")]
    ids = {name: queue.enqueue(jobfuncs.echo, args=(name,), priority=p) for p, name in order}
    names = {v: k for k, v in ids.items()}
    claimed = [names[queue.claim().id] for _ in range(2)] + [names[j.id] for j in queue.claim_batch(10)]
    assert claimed == ["b", "d", "c", "f", "a", "e"]
    assert queue.claim() is None


def test_fifo_holds_across_batches_and_many_jobs(queue):
    ids = queue.enqueue_batch([(jobfuncs.echo, (n,), None) for n in range(300)])
    claimed = []
    while batch := queue.claim_batch(37):
        claimed += [j.id for j in batch]
    assert claimed == ids


def test_queues_are_separate(queue):
    a = queue.enqueue(jobfuncs.echo, args=("a",), queue="a")
    b = queue.enqueue(jobfuncs.echo, args=("b",), queue="b")
    assert queue.claim() is None  # the default queue is empty
    assert queue.claim(queue="b").id == b
    assert queue.claim(queue="b") is None
    assert queue.claim_batch(5, queue="a")[0].id == a
    assert queue.stats("a")["claimed"] == 1 and queue.stats("a")["pending"] == 0
    with pytest.raises(ValueError):
        queue.claim_batch(0)


def test_default_queue_of_the_handle(tmp_path):
    with DuckQueue(str(tmp_path / "q.duckdb"), default_queue="mail") as q:
        job_id = q.enqueue(jobfuncs.echo, args=(1,))
        assert q.get_job(job_id).queue == "mail"
        assert q.claim().id == job_id


def test_delayed_jobs_wait_for_their_time(queue):
    later = queue.enqueue(jobfuncs.echo, args=("later",), delay_seconds=0.4)
    now = queue.enqueue(jobfuncs.echo, args=("now",), priority=1)
    assert queue.stats()["delayed"] == 1 and queue.stats()["pending"] == 1
    assert queue.get_job(later).status == JobStatus.DELAYED
    with pytest.raises(JobNotDoneError) as caught:
        queue.get_result(later)
    assert caught.value.status == "delayed"
    assert queue.claim().id == now
    assert queue.claim() is None
    time.sleep(0.45)
    assert queue.stats()["delayed"] == 0
    job = queue.claim()
    assert job is not None and job.id == later


# -- leases -----------------------------------------------------------------------------------------
def test_expired_lease_makes_the_job_claimable_again_and_counts_the_attempt(db_path):
    holder = DuckQueue(db_path, visibility_timeout=0.2)
    other = DuckQueue(db_path, visibility_timeout=0.2)
    try:
        job_id = holder.enqueue(jobfuncs.echo, args=(1,), max_attempts=3)
        first = holder.claim(worker_id="old")
        assert first.attempts == 1
        assert other.claim() is None  # leased
        time.sleep(0.3)
        second = other.claim(worker_id="new")
        assert second is not None and second.id == job_id
        assert second.attempts == 2
        # the old holder comes back late: its ack is refused and changes nothing
        assert holder.ack(job_id, result="stale") is False
        assert holder.nack(first, requeue=False) is False
        record = other.get_job(job_id)
        assert record.status == JobStatus.CLAIMED
        assert record.attempts == 2 and record.claimed_by == "new"
        assert other.ack(job_id, result="fresh") is True
        assert other.get_result(job_id) == "fresh"
    finally:
        holder.close()
        other.close()


def test_expired_lease_in_a_batch_claim(queue):
    q = queue
    ids = q.enqueue_batch([(jobfuncs.echo, (n,), None) for n in range(3)])
    jobs = q.claim_batch(3, claim_timeout=0.2)
    assert [j.id for j in jobs] == ids
    time.sleep(0.3)
    again = q.claim_batch(5)
    assert sorted(j.id for j in again) == sorted(ids)
    assert {j.attempts for j in again} == {2}
    for job in jobs:  # the first claims are stale now
        assert q.ack(job, result="late") is False
    for job in again:
        assert q.ack(job, result=job.id) is True
    assert q.stats()["done"] == 3


def test_expired_lease_on_the_last_attempt_fails_the_job(queue):
    job_id = queue.enqueue(jobfuncs.echo, args=(1,), max_attempts=1)
    job = queue.claim(claim_timeout=0.2)
    time.sleep(0.3)
    assert queue.claim() is None
    record = queue.get_job(job_id)
    assert record.status == JobStatus.FAILED
    assert "lease expired on attempt 1 of 1" in record.error
    assert [j.id for j in queue.list_dead_letters()] == [job_id]
    assert queue.stats()["failed"] == 1 and queue.stats()["claimed"] == 0
    assert queue.ack(job, result=1) is False  # too late
    assert queue.get_job(job_id).status == JobStatus.FAILED


# -- acknowledging ------------------------------------------------------------------------------
def test_ack_with_a_result_stores_it(queue):
    job_id = queue.enqueue(jobfuncs.add, args=(2, 3))
    job = queue.claim(worker_id="w1")
    assert job.status == JobStatus.CLAIMED and job.claimed_by == "w1"
    assert job.execute() == 5
    assert queue.ack(job.id, result={"sum": 5}) is True
    record = queue.get_job(job_id)
    assert record.status == JobStatus.DONE and record.attempts == 1
    assert record.completed_at is not None and record.error is None
    assert queue.get_result(job_id) == {"sum": 5}
    assert queue.ack(job_id, result="again") is False  # not claimed any more
    assert queue.get_result(job_id) == {"sum": 5}


def test_ack_with_an_unpicklable_result_records_an_error(queue):
    job_id = queue.enqueue(jobfuncs.echo, args=(1,), max_attempts=1)
    queue.ack(queue.claim(), result=threading.Lock())
    record = queue.get_job(job_id)
    assert record.status == JobStatus.FAILED
    assert "result" in record.error and "lock" in record.error.lower()


def test_ack_with_an_error_retries_with_exponential_backoff_then_fails():
    base, jitter = 0.2, 0.25
    q = DuckQueue(retry_backoff=base, retry_jitter=jitter, retry_backoff_max=60)
    try:
        job_id = q.enqueue(jobfuncs.fail, max_attempts=4)
        delays = []
        for attempt in (1, 2, 3):
            job = q.claim()
            assert job is not None and job.id == job_id and job.attempts == attempt
            before = time.time()
            assert q.ack(job, error=f"failure {attempt}") is True
            after = time.time()
            record = q.get_job(job_id)
            assert record.status == JobStatus.DELAYED and record.error == f"failure {attempt}"
            expected = base * 2 ** (attempt - 1)
            assert before + expected * (1 - jitter) <= record.execute_after_ts <= after + expected * (1 + jitter)
            delays.append(record.execute_after_ts - before)
            assert q.claim() is None  # not before its backoff has passed
            assert q.stats()["delayed"] == 1
            time.sleep(record.execute_after_ts - time.time() + 0.02)
        assert delays[0] < delays[1] < delays[2]
        last = q.claim()
        assert last.attempts == 4
        q.ack(last, error="final failure")
        record = q.get_job(job_id)
        assert record.status == JobStatus.FAILED and record.error == "final failure"
        assert q.claim() is None
        assert [j.id for j in q.list_dead_letters()] == [job_id]
        with pytest.raises(JobNotDoneError, match="final failure") as caught:
            q.get_result(job_id)
        assert caught.value.status == "failed"
    finally:
        q.close()


def test_backoff_is_capped_and_jitter_can_be_turned_off():
    with DuckQueue(retry_backoff=100, retry_backoff_max=0.3, retry_jitter=0) as q:
        job_id = q.enqueue(jobfuncs.fail, max_attempts=5)
        for attempt in (1, 2, 3):
            job = q.claim()
            assert job.attempts == attempt
            before = time.time()
            q.ack(job, error="x")
            after = time.time()
            assert before + 0.3 <= q.get_job(job_id).execute_after_ts <= after + 0.3
            time.sleep(0.32)


def test_zero_backoff_retries_at_once():
    with DuckQueue(retry_backoff=0) as q:
        job_id = q.enqueue(jobfuncs.fail, max_attempts=2)
        q.ack(q.claim(), error="x")
        job = q.claim()
        assert job.id == job_id and job.attempts == 2


def test_nack_requeue_gives_the_job_back_without_counting_the_attempt(queue):
    job_id = queue.enqueue(jobfuncs.echo, args=(1,), max_attempts=1)
    assert queue.nack(queue.claim()) is True
    assert queue.get_job(job_id).status == JobStatus.PENDING
    again = queue.claim()
    assert again.id == job_id and again.attempts == 1  # the returned attempt did not count
    assert queue.nack(again.id, requeue=True) is True
    assert queue.claim().attempts == 1


def test_nack_without_requeue_fails_the_job(queue):
    job_id = queue.enqueue(jobfuncs.echo, args=(1,), max_attempts=5)
    assert queue.nack(queue.claim(), requeue=False) is True
    record = queue.get_job(job_id)
    assert record.status == JobStatus.FAILED
    assert queue.claim() is None
    assert [j.id for j in queue.list_dead_letters()] == [job_id]


def test_ack_of_an_unknown_job_raises(queue):
    with pytest.raises(JobNotFoundError):
        queue.ack("no-such-job", result=1)
    with pytest.raises(JobNotFoundError):
        queue.nack("no-such-job")


# -- reading ----------------------------------------------------------------------------------------
def test_get_job_and_get_result_errors(queue):
    with pytest.raises(JobNotFoundError, match="nope") as caught:
        queue.get_job("nope")
    assert isinstance(caught.value, KeyError)
    with pytest.raises(JobNotFoundError, match="nope"):
        queue.get_result("nope")
    job_id = queue.enqueue(jobfuncs.add, args=(1, 1), max_attempts=1)
    with pytest.raises(JobNotDoneError) as caught:
        queue.get_result(job_id)
    assert caught.value.status == "pending" and job_id in str(caught.value)
    job = queue.claim()
    with pytest.raises(JobNotDoneError) as caught:
        queue.get_result(job_id)
    assert caught.value.status == "claimed"
    queue.ack(job, error="ValueError: exploded")
    with pytest.raises(JobNotDoneError, match="exploded") as caught:
        queue.get_result(job_id)
    assert caught.value.status == "failed"
    assert not isinstance(caught.value, JobNotFoundError)


def test_get_result_of_a_job_that_returned_none(queue):
    job_id = queue.enqueue(jobfuncs.echo, args=(None,))
    queue.ack(queue.claim(), result=None)
    assert queue.get_result(job_id) is None


def test_stats_counts_every_status(queue):
    assert set(queue.stats()) == STATUSES and set(queue.stats().values()) == {0}
    queue.enqueue(jobfuncs.echo, args=(1,))  # pending
    queue.enqueue(jobfuncs.echo, args=(2,), delay_seconds=60)  # delayed
    queue.enqueue(jobfuncs.echo, args=(3,), queue="other")
    queue.enqueue(jobfuncs.echo, args=(4,), queue="other", max_attempts=1)
    queue.enqueue(jobfuncs.echo, args=(5,), queue="other")
    queue.ack(queue.claim(queue="other"), result=1)  # done
    failed = queue.claim(queue="other")
    child = queue.enqueue(jobfuncs.echo, args=(6,), depends_on=failed.id)
    queue.ack(failed, error="x")  # failed, and its child skipped
    queue.claim(queue="other")  # claimed
    assert queue.get_job(child).status == JobStatus.SKIPPED
    assert queue.stats() == {"pending": 1, "claimed": 1, "done": 1, "failed": 1, "delayed": 1, "skipped": 1}
    assert queue.stats("other") == {"pending": 0, "claimed": 1, "done": 1, "failed": 1, "delayed": 0,
                                    "skipped": 0}
    assert queue.stats("nothing-here") == dict.fromkeys(STATUSES, 0)


def test_list_dead_letters_newest_first_with_limit(queue):
    ids = []
    for n in range(3):
        ids.append(queue.enqueue(jobfuncs.echo, args=(n,), max_attempts=1))
        queue.ack(queue.claim(), error=f"error {n}")
        time.sleep(0.01)
    queue.enqueue(jobfuncs.echo, args=("ok",))
    queue.ack(queue.claim(), result="ok")  # done jobs are not dead letters
    dead = queue.list_dead_letters()
    assert [j.id for j in dead] == ids[::-1]
    assert [j.error for j in dead] == ["error 2", "error 1", "error 0"]
    assert all(j.status == JobStatus.FAILED for j in dead)
    assert [j.id for j in queue.list_dead_letters(limit=2)] == ids[:0:-1]


def test_retry_dead_letter_refuses_jobs_that_are_not_dead(queue):
    job_id = queue.enqueue(jobfuncs.echo, args=(1,), max_attempts=2)
    queue.ack(queue.claim(), error="x")  # retried after a backoff: delayed, not failed
    assert queue.get_job(job_id).status == JobStatus.DELAYED
    with pytest.raises(QueuackError, match="not failed"):
        queue.retry_dead_letter(job_id)
    with pytest.raises(JobNotFoundError):
        queue.retry_dead_letter("nope")


def test_retry_dead_letter_puts_a_failed_job_back(queue):
    job_id = queue.enqueue(jobfuncs.echo, args=(1,), max_attempts=2)
    queue.nack(queue.claim(), requeue=False)
    assert queue.get_job(job_id).status == JobStatus.FAILED
    queue.retry_dead_letter(job_id)
    record = queue.get_job(job_id)
    assert record.status == JobStatus.PENDING and record.attempts == 0
    assert queue.list_dead_letters() == []
    job = queue.claim()
    assert job.id == job_id and job.attempts == 1
    queue.ack(job, result="second life")
    assert queue.get_result(job_id) == "second life"


def test_retry_dead_letters_of_one_queue_while_newer_ones_fail_elsewhere(queue):
    older = queue.enqueue(jobfuncs.echo, args=("a",), queue="a", max_attempts=1)
    queue.ack(queue.claim(queue="a"), error="a broke")
    time.sleep(0.01)
    newer = queue.enqueue(jobfuncs.echo, args=("b",), queue="b", max_attempts=1)
    queue.ack(queue.claim(queue="b"), error="b broke")
    assert queue.retry_dead_letters(queue="a") == [older]
    assert queue.get_job(older).status == JobStatus.PENDING
    assert [j.id for j in queue.list_dead_letters()] == [newer]


def test_a_retried_dead_letter_that_succeeds_no_longer_shows_its_old_error(queue):
    job_id = queue.enqueue(jobfuncs.echo, args=(1,), max_attempts=1)
    queue.ack(queue.claim(), error="boom")
    queue.retry_dead_letter(job_id)
    assert queue.get_job(job_id).error == "boom"  # while pending again, the last failure stays readable
    job = queue.claim()
    assert job.attempts == 1  # a fresh set of attempts: this is attempt 1 again
    queue.ack(job, result="second life")
    record = queue.get_job(job_id)
    assert (record.status, record.error, record.traceback) == (JobStatus.DONE, None, None)


def test_purge_refuses_an_age_that_is_not_a_number_of_hours(queue):
    job_id = queue.enqueue(jobfuncs.echo, args=(1,))
    queue.ack(queue.claim(), result=1)
    for bad in (float("nan"), "24", None):
        with pytest.raises(ValueError, match="older_than_hours must be a number of hours"):
            queue.purge(older_than_hours=bad)
    assert queue.get_job(job_id).status == JobStatus.DONE


def test_purge_removes_old_finished_jobs_and_their_edges(db_path):
    with DuckQueue(db_path) as q:
        lone = q.enqueue(jobfuncs.echo, args=("lone",))
        parent = q.enqueue(jobfuncs.echo, args=("parent",))
        child = q.enqueue(jobfuncs.echo, args=("child",), depends_on=parent)
        waiting_parent = q.enqueue(jobfuncs.echo, args=("p2",))
        blocker = q.enqueue(jobfuncs.echo, args=("blocker",), queue="slow")
        waiting_child = q.enqueue(jobfuncs.echo, args=("c2",), depends_on=[waiting_parent, blocker])
        failed = q.enqueue(jobfuncs.echo, args=("failed",), max_attempts=1)
        for job in q.claim_batch(10):
            if job.id == failed:
                q.ack(job, error="x")
            elif job.id in (lone, parent, waiting_parent):
                q.ack(job, result="ok")
        q.ack(q.claim(), result="ok")  # the child
        assert q.get_job(child).status == JobStatus.DONE
        assert q.purge(older_than_hours=1) == 0  # nothing old enough
        with pytest.raises(ValueError, match="pending"):
            q.purge(status="pending", older_than_hours=0)
        time.sleep(0.01)
        removed = q.purge(older_than_hours=0)
        assert removed == 3  # lone, parent, child; waiting_parent is still needed by waiting_child
        for gone in (lone, parent, child):
            with pytest.raises(JobNotFoundError):
                q.get_job(gone)
        assert q.get_job(waiting_parent).status == JobStatus.DONE
        assert q.get_job(failed).status == JobStatus.FAILED  # only "done" by default
        assert q.purge(status=["failed"], older_than_hours=0) == 1
        # the kept parent still counts for its child
        q.ack(q.claim(queue="slow"), result="ok")
        last = q.claim()
        assert last.id == waiting_child
        q.ack(last, result="ok")
        assert q.purge(older_than_hours=0) == 3
        assert sum(q.stats().values()) == 0
    with duckdb.connect(db_path, read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM queuack.job_dependencies").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM queuack.jobs").fetchone()[0] == 0


def test_purge_by_queue(queue):
    a = queue.enqueue(jobfuncs.echo, args=(1,), queue="a")
    b = queue.enqueue(jobfuncs.echo, args=(2,), queue="b")
    queue.ack(queue.claim(queue="a"), result=1)
    queue.ack(queue.claim(queue="b"), result=2)
    time.sleep(0.01)
    assert queue.purge(queue="a", older_than_hours=0) == 1
    with pytest.raises(JobNotFoundError):
        queue.get_job(a)
    assert queue.get_result(b) == 2


# -- durability ---------------------------------------------------------------------------------------
def test_everything_survives_reopening_the_file(db_path):
    with DuckQueue(db_path) as q:
        done = q.enqueue(jobfuncs.add, args=(1, 2))
        q.ack(q.claim(), result=3)
        high = q.enqueue(jobfuncs.echo, args=("high",), priority=80)
        low = q.enqueue(jobfuncs.echo, args=("low",), priority=20)
        parent = q.enqueue(jobfuncs.echo, args=("parent",), priority=10)
        child = q.enqueue(jobfuncs.echo, args=("child",), depends_on=parent, priority=99)
        delayed = q.enqueue(jobfuncs.echo, args=("delayed",), delay_seconds=60)
    with DuckQueue(db_path) as q:
        assert q.get_result(done) == 3
        assert q.stats() == {"pending": 4, "claimed": 0, "done": 1, "failed": 0, "delayed": 1, "skipped": 0}
        order = []
        while (job := q.claim()) is not None:
            order.append(job.id)
            assert job.execute() == {high: "high", low: "low", parent: "parent", child: "child"}[job.id]
            q.ack(job, result=job.execute())
        assert order == [high, low, parent, child]
        assert q.get_job(delayed).status == JobStatus.DELAYED


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        ((1,), {"scal": 3}, "'scal'"),
        ((1, 2), None, "positional"),
        ((), {"scale": 2}, "missing argument(s) 'a'"),
        ((1,), {"a": 1}, "both by position and by keyword"),
    ],
)
def test_enqueue_refuses_arguments_that_do_not_fit_the_function(queue, args, kwargs, message):
    with pytest.raises(EnqueueError) as caught:
        queue.enqueue(jobfuncs.keyword_only, args=args, kwargs=kwargs)
    assert "runtime.jobfuncs.keyword_only" in str(caught.value) and message in str(caught.value)
    with pytest.raises(EnqueueError, match="'scal'"):
        queue.enqueue_batch([(jobfuncs.add, (1, 2)), (jobfuncs.keyword_only, (1,), {"scal": 3})])
    assert total(queue) == 0


def test_enqueue_accepts_calls_that_fit(queue):
    queue.enqueue(jobfuncs.keyword_only, args=(2,), kwargs={"scale": 3})
    queue.enqueue(jobfuncs.keyword_only, kwargs={"a": 2})
    queue.enqueue(jobfuncs.with_context)  # the context is injected when it runs
    queue.enqueue(jobfuncs.Tasks.static_add, args=(1, 2))
    queue.enqueue(print, args=("builtins have no signature to check",))
    queue.enqueue(jobfuncs.measure, args=(3,))  # its decorator supplies `unit`
    assert queue.stats()["pending"] == 6
    job = queue.claim()
    assert job.execute() == 6


@pytest.mark.parametrize(
    "options",
    [{"visibility_timeout": 0}, {"retry_backoff": -1}, {"retry_backoff_max": -1}, {"retry_jitter": 1.5},
     {"retry_jitter": -0.1}, {"no_such_option": 1}],
)
def test_bad_queue_options_are_refused(options):
    with pytest.raises((ValueError, TypeError), match=next(iter(options))):
        DuckQueue(**options)
