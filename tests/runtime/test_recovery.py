"""Crashes: a process that dies holding the queue file loses nothing, and re-runs only what was in flight."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from queuack import DuckQueue, JobStatus, QueuackError, Worker
from queuack.journal import MAGIC

from . import jobfuncs
from .conftest import TESTS_DIR, python_process, subprocess_env

JOBS = 80


def read_log(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [int(line) for line in path.read_text().split("\n") if line.strip()]


def wait_for_lines(path: Path, count: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(read_log(path)) < count:
        if process.poll() is not None:
            raise AssertionError(f"the worker ended early: {process.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError("the worker made no progress")
        time.sleep(0.02)


@pytest.mark.parametrize("concurrency", [1, 2])
def test_sigkill_mid_run_loses_nothing_and_reruns_only_jobs_in_flight(tmp_path, concurrency):
    db = str(tmp_path / "queue.duckdb")
    log = tmp_path / "ran.log"
    with DuckQueue(db) as q:
        ids = q.enqueue_batch([(jobfuncs.append_to_log, (str(log), n, 0.05), None) for n in range(JOBS)])
    worker = subprocess.Popen(
        [sys.executable, "-m", "queuack", "worker", db, "--concurrency", str(concurrency),
         "--path", str(TESTS_DIR)],
        cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        wait_for_lines(log, 20, worker)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    before_kill = read_log(log)
    assert 20 <= len(before_kill) < JOBS, "the kill came too late to test anything"

    # another process (this one) opens the file and runs the rest
    with DuckQueue(db) as q:
        assert q.stats()["claimed"] == 0  # recovered at open
        Worker(q, concurrency=2).run(burst=True)
        assert q.stats() == {"pending": 0, "claimed": 0, "done": JOBS, "failed": 0, "delayed": 0, "skipped": 0}
        assert [q.get_result(i) for i in ids] == list(range(JOBS))

    runs = collections.Counter(read_log(log))
    assert set(runs) == set(range(JOBS))  # none lost
    twice = {n for n, count in runs.items() if count > 1}
    assert all(runs[n] == 2 for n in twice)
    # Jobs in flight at the kill: those running, plus those finished but not yet in a group
    # commit. The worker holds at most 2 * concurrency claimed jobs, and commits outcomes
    # within about 50 ms; with 50 ms jobs that is a handful more.
    in_flight = 2 * concurrency + 4
    assert len(twice) <= in_flight
    assert twice <= set(before_kill[-in_flight:]), (twice, before_kill[-in_flight:])


def test_recovery_at_open_fails_a_job_claimed_on_its_last_attempt(tmp_path):
    db = str(tmp_path / "queue.duckdb")
    script = f"""
import os, signal
from queuack import DuckQueue
from runtime import jobfuncs
q = DuckQueue({db!r})
last = q.enqueue(jobfuncs.echo, args=("last",), max_attempts=1, priority=90)
more = q.enqueue(jobfuncs.echo, args=("more",), max_attempts=3, priority=80)
after_last = q.enqueue(jobfuncs.echo, args=("after last",), depends_on=last)
after_more = q.enqueue(jobfuncs.echo, args=("after more",), depends_on=more)
done = q.enqueue(jobfuncs.echo, args=("done",), priority=99)
q.ack(q.claim(), result="kept")
waiting = q.enqueue(jobfuncs.echo, args=("waiting",), priority=1)
assert [j.id for j in q.claim_batch(2)] == [last, more]
print(last, more, after_last, after_more, done, waiting, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    process = python_process(script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, err
    last, more, after_last, after_more, done, waiting = out.split()

    with DuckQueue(db) as q:
        record = q.get_job(last)
        assert record.status == JobStatus.FAILED and record.attempts == 1
        assert "ended before it finished" in record.error
        assert [j.id for j in q.list_dead_letters()] == [last]
        assert q.get_job(after_last).status == JobStatus.SKIPPED  # its parent can never succeed

        record = q.get_job(more)
        assert record.status == JobStatus.PENDING and record.attempts == 1
        assert q.get_result(done) == "kept"
        assert q.get_job(waiting).status == JobStatus.PENDING and q.get_job(waiting).attempts == 0
        assert q.stats() == {"pending": 3, "claimed": 0, "done": 1, "failed": 1, "delayed": 0, "skipped": 1}

        again = q.claim()
        assert again.id == more and again.attempts == 2  # the lost attempt counted
        q.ack(again, result=again.execute())
        Worker(q).run(burst=True)
        assert q.get_result(after_more) == "after more"
        assert q.get_result(waiting) == "waiting"


def test_a_clean_close_keeps_claims_for_the_next_opener_to_recover(tmp_path):
    """A process that closes its queue while holding claims has abandoned them just the same."""
    db = str(tmp_path / "queue.duckdb")
    q = DuckQueue(db)
    job_id = q.enqueue(jobfuncs.echo, args=(1,), max_attempts=2)
    assert q.claim().attempts == 1
    q.close()
    with DuckQueue(db) as reopened:
        record = reopened.get_job(job_id)
        assert record.status == JobStatus.PENDING and record.attempts == 1
        assert reopened.claim().attempts == 2


@pytest.mark.parametrize("concurrency", [1, 2])
def test_a_kill_charges_only_the_jobs_that_had_started(tmp_path, concurrency):
    """Jobs prefetched but not started go back as they were: with max_attempts=1 they must not
    become dead letters that never ran."""
    db = str(tmp_path / "queue.duckdb")
    log = tmp_path / "ran.log"
    with DuckQueue(db) as q:  # 20 ms jobs: the worker prefetches about ten at a time
        ids = [q.enqueue(jobfuncs.append_to_log, args=(str(log), n, 0.02), max_attempts=1) for n in range(40)]
    worker = subprocess.Popen(
        [sys.executable, "-m", "queuack", "worker", db, "--concurrency", str(concurrency), "--path", str(TESTS_DIR)],
        cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        wait_for_lines(log, 14, worker)  # past the first batch, in the middle of the next ones
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=30)
    started = read_log(log)
    assert len(started) < 40, "the kill came too late to test anything"

    with DuckQueue(db) as q:
        records = {n: q.get_job(job_id) for n, job_id in enumerate(ids)}
        failed = {n for n, r in records.items() if r.status == JobStatus.FAILED}
        # only a job running at the kill is charged (with one attempt, it is a dead letter)
        assert len(failed) <= concurrency and failed <= set(started[-concurrency:]), (failed, started)
        for n in failed:
            assert "ended before it finished" in records[n].error
        never_started = [n for n in range(40) if n not in started]
        assert all(records[n].status == JobStatus.PENDING and records[n].attempts == 0 for n in never_started)
        Worker(q, concurrency=2).run(burst=True)
        assert q.stats()["done"] == 40 - len(failed)


def test_a_poison_job_ends_in_the_dead_letters_whatever_opens_the_file_between_restarts(tmp_path):
    """A job that kills its worker (os._exit, a segfault) is charged an attempt by each crash, even
    when other processes open the file between restarts (a health check running `queuack stats`,
    an application that enqueues): a supervisor restarting the worker ends with it in the dead
    letters. The jobs around it run once and are never charged for its crashes."""
    db = str(tmp_path / "queue.duckdb")
    with DuckQueue(db) as q:
        before = [q.enqueue(jobfuncs.echo, args=(n,), max_attempts=1, priority=90) for n in range(3)]
        poison = q.enqueue(jobfuncs.kill_own_process, args=("boom",), max_attempts=2, priority=80)
        behind = [q.enqueue(jobfuncs.echo, args=(n,), max_attempts=1, priority=70) for n in range(3, 6)]
    crashes = 0
    for _ in range(6):  # the supervisor
        worker = subprocess.run(
            [sys.executable, "-m", "queuack", "worker", db, "--burst", "--path", str(TESTS_DIR)],
            cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=120,
        )
        if worker.returncode == 0:
            break
        assert worker.returncode == -signal.SIGKILL, worker.stderr
        crashes += 1
        health = subprocess.run([sys.executable, "-m", "queuack", "stats", db, "--json"],
                                env=subprocess_env(), capture_output=True, text=True, timeout=120)
        assert health.returncode == 0, health.stderr
        with DuckQueue(db) as q:  # opened for writing and closed cleanly between restarts
            q.stats()
    assert worker.returncode == 0, "the poison job was still being retried after 6 crashes"
    assert crashes == 2  # one per attempt
    with DuckQueue(db) as q:
        record = q.get_job(poison)
        assert record.status == JobStatus.FAILED and record.attempts == 2
        assert "ended before it finished" in record.error
        assert [q.get_result(i) for i in before + behind] == list(range(6))
        assert all(q.get_job(i).attempts == 1 for i in before + behind)


def test_jobs_enqueued_one_by_one_survive_a_kill_right_after_enqueue(tmp_path):
    """A lone enqueue is durable when it returns (it is journalled and synced), even though it
    reaches DuckDB's own tables only with the next statement; a torn journal tail is ignored."""
    db = str(tmp_path / "queue.duckdb")
    script = f"""
import os, signal
from queuack import DuckQueue
from runtime import jobfuncs
q = DuckQueue({db!r})
ids = [q.enqueue(jobfuncs.echo, args=(n,)) for n in range(40)]
print(" ".join(ids), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    process = python_process(script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, err
    ids = out.split()
    journal = Path(db + ".queuack-journal")
    assert journal.stat().st_size > 0
    with open(journal, "ab") as fh:
        fh.write(MAGIC + b"\x10\x00\x00\x00torn")  # a record cut short by the crash
    with DuckQueue(db) as q:
        assert q.stats()["pending"] == 40
        Worker(q).run(burst=True)
        assert [q.get_result(i) for i in ids] == list(range(40))
    assert not journal.exists()  # replayed into the database, then removed
    with DuckQueue(db) as q:  # replaying again adds nothing
        assert q.stats()["done"] == 40


def test_a_link_at_the_start_log_is_refused_and_its_target_left_alone(tmp_path):
    db = str(tmp_path / "queue.duckdb")
    DuckQueue(db).close()
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    Path(db + ".queuack-running").symlink_to(target)
    with pytest.raises(QueuackError, match="symbolic link"):
        DuckQueue(db)
    assert target.read_text() == "keep me"
