"""Worker(pool="process"): jobs run in spawned children while the worker process keeps the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from queuack import DAG, DuckQueue, JobStatus, Worker

from . import jobfuncs
from .conftest import TESTS_DIR, location, subprocess_env


def test_jobs_run_in_children_with_their_task_context(queue):
    with DAG("etl", queue=queue) as dag:
        dag.add_job(jobfuncs.add, args=(1, 2), name="a")
        dag.add_job(jobfuncs.add, args=(10, 20), name="b")
        dag.add_job(jobfuncs.pid_and_upstream, name="join", depends_on=["a", "b"])
    plain = queue.enqueue(jobfuncs.add, args=(2, 3))
    Worker(queue, concurrency=2, pool="process").run(burst=True)
    pid, upstream = dag.get_result("join")
    assert pid != os.getpid() and upstream == [3, 30]
    assert queue.get_result(plain) == 5


def test_a_child_that_dies_fails_that_attempt_and_is_replaced(queue):
    dies = queue.enqueue(jobfuncs.hard_exit, args=(3,), max_attempts=1)
    after = [queue.enqueue(jobfuncs.add, args=(n, 0)) for n in range(4)]
    Worker(queue, concurrency=1, pool="process").run(burst=True)
    job = queue.get_job(dies)
    assert job.status.value == "failed"
    assert "the process running the job died (exit code 3)" in job.error
    assert [queue.get_result(i) for i in after] == [0, 1, 2, 3]


def test_a_timeout_kills_the_child(queue):
    slow = queue.enqueue(jobfuncs.nap, args=(60,), timeout_seconds=0.5, max_attempts=1)
    after = queue.enqueue(jobfuncs.add, args=(1, 1))
    started = time.monotonic()
    Worker(queue, concurrency=1, pool="process").run(burst=True)
    assert time.monotonic() - started < 50  # not the 60 s of the job: its child was killed
    job = queue.get_job(slow)
    assert job.status.value == "failed" and "timed out after 0.5s" in job.error and "killed" in job.error
    assert queue.get_result(after) == 2


@pytest.mark.duckdb_only("a DuckDB file belongs to the worker process; PostgreSQL opens anywhere")
def test_context_queue_in_a_child_fails_clearly_on_a_duckdb_file(queue):
    job_id = queue.enqueue(jobfuncs.queue_stats, max_attempts=1)
    Worker(queue, pool="process").run(burst=True)
    assert "context.queue is not available to a task running in a process-pool child" in queue.get_job(job_id).error


@pytest.mark.parametrize("kind", ["file", "postgres"])
def test_a_task_holding_the_gil_past_its_lease_in_a_child_keeps_its_claim(request, tmp_path, kind):
    lease = 1.0
    gil_held = 1.5 * lease  # without lease renewal the job is stolen, and runs twice, well before this
    where = location(request, kind, tmp_path)
    log = tmp_path / "held.log"
    with DuckQueue(where, visibility_timeout=lease) as q, DuckQueue(where, visibility_timeout=lease) as other:
        job_id = q.enqueue(jobfuncs.hold_the_gil, args=(str(log), gil_held), max_attempts=1)
        worker = Worker(q, pool="process")
        thread = threading.Thread(target=worker.run, kwargs={"burst": True})
        thread.start()
        deadline = time.monotonic() + 60
        while not log.exists():  # the child is running it
            assert thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.02)
        stolen = []
        while thread.is_alive():  # a second worker on the same queue, polling
            job = other.claim()
            if job is not None:
                stolen.append(job.id)
                other.ack(job.id, result=job.execute())
            time.sleep(0.05)
        thread.join()
        assert stolen == [], "the worker's child held the GIL, and the job's lease lapsed meanwhile"
        started, *held = log.read_text().split()
        assert started == "started" and len(held) == 1  # it ran once
        assert float(held[0]) >= gil_held  # and held the GIL past the lease
        job = q.get_job(job_id)
        assert job.status == JobStatus.DONE and job.attempts == 1


def test_old_task_code_that_opens_the_queue_file_in_a_child_fails_clearly(db_path):
    with DuckQueue(db_path) as q:
        job_id = q.enqueue(jobfuncs.enqueue_followup, args=(db_path, 1), max_attempts=1)
        Worker(q, pool="process").run(burst=True)
        error = q.get_job(job_id).error
    assert error.startswith("DatabaseLockedError: DuckQueue(")
    assert "is not available to a task running in a process-pool child" in error and "pool='thread'" in error


def test_pool_must_be_thread_or_process(queue):
    with pytest.raises(ValueError, match="pool must be 'thread' or 'process'"):
        Worker(queue, pool="fork")


def test_sigkill_of_a_process_pool_worker_loses_nothing_acknowledged(tmp_path):
    db = str(tmp_path / "q.duckdb")
    log = tmp_path / "ran.log"
    with DuckQueue(db) as q:
        q.enqueue_batch([(jobfuncs.append_to_log, (str(log), n, 0.1), None) for n in range(40)])
    process = subprocess.Popen(
        [sys.executable, "-m", "queuack", "worker", db, "--pool", "process", "--concurrency", "2",
         "--path", str(TESTS_DIR)], cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (log.exists() and len(log.read_text().split()) >= 10):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    with DuckQueue(db) as q:
        stats = q.stats()
        assert stats["done"] + stats["pending"] == 40 and stats["claimed"] == 0
        committed = stats["done"]
        Worker(q, concurrency=2).run(burst=True)
        assert q.stats()["done"] == 40
    runs = [int(n) for n in log.read_text().split()]
    assert sorted(set(runs)) == list(range(40))  # every job ran; the ones in flight ran again
    assert len(runs) - 40 <= 40 - committed


def test_children_end_with_a_worker_killed_by_sigkill(tmp_path):
    db = str(tmp_path / "q.duckdb")
    log = tmp_path / "pids.log"
    with DuckQueue(db) as q:
        q.enqueue_batch([(jobfuncs.log_pid_and_nap, (str(log), 600), None) for _ in range(2)])
    process = subprocess.Popen(
        [sys.executable, "-m", "queuack", "worker", db, "--pool", "process", "--concurrency", "2",
         "--path", str(TESTS_DIR)], cwd=tmp_path, env=subprocess_env(), stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (log.exists() and len(log.read_text().split()) == 2):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    children = [int(pid) for pid in log.read_text().split()]
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    try:  # a child left running its job would run it beside the worker restarted after the crash
        while any(os.path.exists(f"/proc/{pid}") for pid in children):
            assert time.monotonic() < deadline, "a child outlived its worker"
            time.sleep(0.05)
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize("location", ["memory", "file"])
def test_a_script_without_a_main_guard_stops_the_worker_and_charges_no_attempt(location, tmp_path):
    # Spawning a child imports the script again: unguarded, the child opens the queue and starts a
    # Worker of its own (a memory queue) or finds the file held (a file queue), and never runs a job.
    db = repr(str(tmp_path / "q.duckdb")) if location == "file" else ""
    script = tmp_path / "unguarded.py"
    script.write_text(f"""
from queuack import DuckQueue, Worker, WorkerSetupError
from runtime import jobfuncs

q = DuckQueue({db})
job_id = q.enqueue(jobfuncs.add, args=(1, 2), max_attempts=1)
try:
    Worker(q, pool="process").run(burst=True)
except WorkerSetupError as exc:
    print("stopped:", type(exc).__name__, exc)
print("job:", q.get_job(job_id).status.value, q.get_job(job_id).attempts)
""")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=subprocess_env(),
                          capture_output=True, text=True, timeout=120)
    assert "job: pending 0" in done.stdout, done.stdout + done.stderr
    assert "stopped: ChildStartError" in done.stdout and 'if __name__ == "__main__":' in done.stdout


def test_a_function_of_a_main_without_a_file_says_why_the_child_cannot_find_it(tmp_path):
    code = """
from queuack import DuckQueue, TaskImportError, Worker

def square(x):
    return x * x

q = DuckQueue()
job_id = q.enqueue(square, args=(3,))
try:
    Worker(q, pool="process").run(burst=True)
except TaskImportError as exc:
    print("stopped:", exc)
print("job:", q.get_job(job_id).status.value, q.get_job(job_id).attempts)
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=subprocess_env(),
                          capture_output=True, text=True, timeout=120)
    assert "job: pending 0" in done.stdout, done.stdout + done.stderr
    assert "not from `python -c`, a notebook or the interactive prompt" in done.stdout
    assert "pool='thread'" in done.stdout


def test_a_worker_that_cannot_start_its_children_stops_instead_of_hanging(tmp_path):
    import resource

    db = str(tmp_path / "q.duckdb")
    with DuckQueue(db) as q:
        ids = q.enqueue_batch([(jobfuncs.add, (n, 1), None) for n in range(8)])
    # so few file descriptors that the database opens but no child can be spawned
    worker = subprocess.Popen(
        [sys.executable, "-m", "queuack", "worker", db, "--burst", "--pool", "process", "--concurrency", "2",
         "--path", str(TESTS_DIR)], cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16)))
    try:
        out, err = worker.communicate(timeout=120)  # it hung here, its dead threads' jobs held
    finally:
        worker.kill()
    if "Too many open files" in err:
        assert worker.returncode == 1 and "Stopping this worker" in err
    with DuckQueue(db) as q:
        for job_id in ids:
            job = q.get_job(job_id)
            assert job.status.value == "done" or (job.status.value, job.attempts) == ("pending", 0)
