"""Worker: queues in order, threads, burst, stop, wake-ups, signals, failing jobs, many claimers."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from queuack import DuckQueue, JobStatus, TaskAbortedError, Worker

from . import jobfuncs
from .conftest import TESTS_DIR, python_process, subprocess_env


@pytest.fixture(autouse=True)
def _fresh_job_state():
    jobfuncs.reset()
    yield
    jobfuncs.reset()


def start(worker: Worker, **run_options) -> threading.Thread:
    thread = threading.Thread(target=worker.run, kwargs=run_options, daemon=True)
    thread.start()
    return thread


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# -- running jobs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("concurrency", [1, 3])
def test_burst_runs_every_ready_job_and_returns(queue, concurrency):
    ids = queue.enqueue_batch([(jobfuncs.add, (n, n), None) for n in range(50)])
    later = queue.enqueue(jobfuncs.echo, args=("later",), delay_seconds=60)
    processed = Worker(queue, concurrency=concurrency).run(burst=True)
    assert processed == 50
    assert [queue.get_result(i) for i in ids] == [2 * n for n in range(50)]
    assert queue.get_job(later).status == JobStatus.DELAYED  # not ready: burst does not wait for it
    assert queue.stats()["claimed"] == 0
    assert Worker(queue).run(burst=True) == 0  # nothing ready: returns at once


@pytest.mark.parametrize("concurrency", [1, 2])
def test_worker_runs_children_after_their_parents(queue, concurrency):
    first = queue.enqueue(jobfuncs.record, args=("first",))
    second = queue.enqueue(jobfuncs.record, args=("second",), depends_on=first, priority=99)
    third = queue.enqueue(jobfuncs.record, args=("third",), depends_on=[first, second], priority=99)
    Worker(queue, concurrency=concurrency).run(burst=True)
    assert jobfuncs.ran == ["first", "second", "third"]
    assert queue.get_result(third) == "third"


def test_queues_are_served_in_the_given_order(queue):
    for n in range(3):
        queue.enqueue(jobfuncs.record, args=(f"low{n}",), queue="low", priority=99)
        queue.enqueue(jobfuncs.record, args=(f"high{n}",), queue="high", priority=1)
    queue.enqueue(jobfuncs.record, args=("ignored",), queue="elsewhere")
    Worker(queue, queues=["high", "low"]).run(burst=True)
    assert jobfuncs.ran == ["high0", "high1", "high2", "low0", "low1", "low2"]
    assert queue.stats("elsewhere")["pending"] == 1  # a queue not listed is left alone


def test_queue_priorities_as_pairs(queue):
    queue.enqueue(jobfuncs.record, args=("b",), queue="b")
    queue.enqueue(jobfuncs.record, args=("a",), queue="a")
    Worker(queue, queues=[("a", 1), ("b", 10)]).run(burst=True)
    assert jobfuncs.ran == ["b", "a"]


def test_without_queues_every_queue_by_job_priority(queue):
    queue.enqueue(jobfuncs.record, args=("x-low",), queue="x", priority=10)
    queue.enqueue(jobfuncs.record, args=("y-high",), queue="y", priority=90)
    queue.enqueue(jobfuncs.record, args=("x-mid",), queue="x", priority=50)
    Worker(queue).run(burst=True)
    assert jobfuncs.ran == ["y-high", "x-mid", "x-low"]


def test_concurrency_runs_jobs_at_the_same_time(queue):
    queue.enqueue_batch([(jobfuncs.overlapping, (0.3,), None) for _ in range(6)])
    assert Worker(queue, concurrency=3).run(burst=True) == 6
    assert jobfuncs.peak >= 2
    assert jobfuncs.peak <= 3
    assert queue.stats()["done"] == 6


def test_worker_results_are_on_disk(db_path):
    with DuckQueue(db_path) as q:
        ids = q.enqueue_batch([(jobfuncs.add, (n, 1), None) for n in range(200)])
        Worker(q, concurrency=2).run(burst=True)
    with DuckQueue(db_path) as q:
        assert q.stats()["done"] == 200
        assert [q.get_result(i) for i in ids] == [n + 1 for n in range(200)]


def test_each_run_returns_its_own_count(queue):
    worker = Worker(queue)
    queue.enqueue_batch([(jobfuncs.add, (1, 2))] * 3)
    assert worker.run(burst=True) == 3
    queue.enqueue_batch([(jobfuncs.add, (1, 2))] * 2)
    assert worker.run(burst=True) == 2
    assert worker.processed == 5


@pytest.mark.parametrize("concurrency", [1, 2])
def test_a_task_may_open_the_queue_file_itself(db_path, concurrency):
    with DuckQueue(db_path) as q:
        first = q.enqueue(jobfuncs.enqueue_followup, args=(db_path, "follow-up"))
        assert Worker(q, concurrency=concurrency).run(burst=True) == 2
        followup = q.get_result(first)
        assert q.get_result(followup) == "follow-up"
        assert jobfuncs.ran == ["follow-up"]
        assert q.stats()["done"] == 2  # the worker's handle survived the task's close()


def test_invalid_worker_options(queue):
    with pytest.raises(ValueError, match="concurrency"):
        Worker(queue, concurrency=0)


# -- jobs that go wrong ---------------------------------------------------------------------------
@pytest.mark.parametrize("concurrency", [1, 2])
def test_failing_jobs_are_recorded_and_the_worker_goes_on(concurrency):
    with DuckQueue(retry_backoff=0) as q:
        raises = q.enqueue(jobfuncs.fail, args=("exploded",), max_attempts=2)
        unpicklable = q.enqueue(jobfuncs.unpicklable_result, max_attempts=1)
        slow = q.enqueue(jobfuncs.nap, args=(1.0, "late"), timeout_seconds=0.2, max_attempts=2)
        exits = q.enqueue(jobfuncs.exit_now, args=(3,), max_attempts=1)
        fine = q.enqueue(jobfuncs.add, args=(1, 2), priority=1)
        Worker(q, concurrency=concurrency).run(burst=True)

        record = q.get_job(raises)
        assert record.status == JobStatus.FAILED and record.attempts == 2
        assert record.error == "ValueError: exploded"
        assert "Traceback" in record.traceback and "in fail" in record.traceback

        record = q.get_job(unpicklable)
        assert record.status == JobStatus.FAILED
        assert "result" in record.error and "lock" in record.error.lower()
        assert record.traceback

        record = q.get_job(slow)
        assert record.status == JobStatus.FAILED and record.attempts == 2
        assert "timed out" in record.error
        assert record.traceback

        record = q.get_job(exits)
        assert record.status == JobStatus.FAILED and record.error == "SystemExit: 3"

        assert q.get_result(fine) == 3  # run after all of them
        assert {j.id for j in q.list_dead_letters()} == {raises, unpicklable, slow, exits}


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_task_raising_a_base_exception_fails_and_the_worker_process_goes_on(db_path, concurrency):
    """KeyboardInterrupt, SystemExit and other BaseExceptions raised by a task are its failure:
    they neither kill the worker process (one thread) nor hang it (several)."""
    with DuckQueue(db_path) as q:
        kinds = {kind: q.enqueue(jobfuncs.raise_base, args=(kind,), max_attempts=1, priority=90)
                 for kind in ("interrupt", "exit", "unusual")}
        fine = q.enqueue_batch([(jobfuncs.echo, (n,), None) for n in range(6)])
    worker = subprocess.run(
        [sys.executable, "-m", "queuack", "worker", db_path, "--burst", "--concurrency", str(concurrency),
         "--path", str(TESTS_DIR)],
        env=subprocess_env(), capture_output=True, text=True, timeout=120,
    )
    assert worker.returncode == 0, worker.stderr
    with DuckQueue(db_path) as q:
        errors = {}
        for kind, job_id in kinds.items():
            record = q.get_job(job_id)
            assert record.status == JobStatus.FAILED and record.attempts == 1, kind
            errors[kind] = record.error
        assert errors == {"interrupt": "KeyboardInterrupt: pressed in the task", "exit": "SystemExit: leaving",
                          "unusual": "Unusual: unusual"}
        assert [q.get_result(i) for i in fine] == list(range(6))


def test_job_execute_reports_a_base_exception_of_the_task_as_an_exception(queue):
    """Hand-written claim loops catch Exception around job.execute(): a task's KeyboardInterrupt
    must not escape them as if Ctrl-C had been pressed."""
    queue.enqueue(jobfuncs.raise_base, args=("interrupt",), max_attempts=1)
    job = queue.claim()
    try:
        job.execute()
    except Exception as exc:
        assert isinstance(exc, TaskAbortedError) and isinstance(exc.cause, KeyboardInterrupt)
        assert "raised KeyboardInterrupt: pressed in the task" in str(exc)
        queue.ack(job, error=str(exc))
    assert queue.get_job(job.id).status == JobStatus.FAILED


def test_job_execute_lets_a_real_ctrl_c_through(queue):
    queue.enqueue(jobfuncs.interrupt_own_process)
    job = queue.claim()
    handler = signal.getsignal(signal.SIGINT)
    assert handler is signal.default_int_handler, f"the test needs Python's Ctrl-C handler, found {handler!r}"
    try:
        result = job.execute()
    except KeyboardInterrupt:
        pass
    else:
        pytest.fail(f"job.execute() returned instead of raising KeyboardInterrupt: {result}")
    assert signal.getsignal(signal.SIGINT) is handler


def test_a_job_that_keeps_timing_out_uses_up_its_attempts():
    with DuckQueue(retry_backoff=0) as q:
        job_id = q.enqueue(jobfuncs.nap, args=(0.6, "done"), timeout_seconds=0.2, max_attempts=3)
        worker = Worker(q)
        assert worker.run(burst=True) == 3
        assert q.get_job(job_id).attempts == 3
        assert q.get_job(job_id).status == JobStatus.FAILED
        assert "timed out after 0.2s" in q.get_job(job_id).error


def test_a_job_with_a_timeout_that_finishes_in_time_keeps_its_result(queue):
    job_id = queue.enqueue(jobfuncs.nap, args=(0.01, "quick"), timeout_seconds=5)
    Worker(queue).run(burst=True)
    assert queue.get_result(job_id) == "quick"


def test_failed_job_is_retried_after_its_backoff():
    with DuckQueue(retry_backoff=0.2, retry_jitter=0) as q:
        job_id = q.enqueue(jobfuncs.fail, max_attempts=2)
        Worker(q).run(burst=True)
        assert q.get_job(job_id).status == JobStatus.DELAYED  # burst does not wait for the backoff
        time.sleep(0.25)
        Worker(q).run(burst=True)
        assert q.get_job(job_id).status == JobStatus.FAILED


# -- stopping and waking -------------------------------------------------------------------------
@pytest.mark.parametrize("concurrency", [1, 2])
def test_stop_finishes_running_jobs_and_releases_prefetched_ones(db_path, concurrency):
    with DuckQueue(db_path) as q:
        ids = q.enqueue_batch([(jobfuncs.record_and_nap, (n, 0.3), None) for n in range(12)])
        worker = Worker(q, concurrency=concurrency)
        thread = start(worker)
        assert jobfuncs.started.wait(10)
        time.sleep(0.05)
        worker.stop()
        thread.join(10)
        assert not thread.is_alive()
        ran = set(jobfuncs.ran)
        assert 1 <= len(ran) < 12
        assert worker.processed == len(ran)
        for number, job_id in enumerate(ids):
            record = q.get_job(job_id)
            if number in ran:
                assert record.status == JobStatus.DONE  # the running job was finished
            else:
                assert record.status == JobStatus.PENDING and record.attempts == 0
        assert q.stats()["claimed"] == 0
    with DuckQueue(db_path) as q:  # the same on disk
        assert q.stats()["done"] == len(ran) and q.stats()["pending"] == 12 - len(ran)
        assert {j.attempts for j in q.claim_batch(20)} == {1}


@pytest.mark.parametrize("concurrency", [1, 2])
def test_an_idle_worker_wakes_when_a_job_is_enqueued(queue, concurrency):
    worker = Worker(queue, concurrency=concurrency)
    thread = start(worker)
    try:
        time.sleep(0.3)  # idle by now
        enqueued = time.monotonic()
        queue.enqueue(jobfuncs.record, args=("wake",))
        assert jobfuncs.started.wait(5)
        assert time.monotonic() - enqueued < 0.5
    finally:
        worker.stop()
        thread.join(10)
    assert not thread.is_alive()
    assert jobfuncs.ran == ["wake"]


@pytest.mark.parametrize("concurrency", [1, 2])
def test_an_idle_worker_does_not_spin(concurrency):
    with DuckQueue() as queue:
        queue.enqueue(jobfuncs.echo, args=("later",), delay_seconds=60)
        worker = Worker(queue, concurrency=concurrency)
        thread = start(worker)
        try:
            time.sleep(0.2)
            cpu = time.process_time()
            time.sleep(1.0)
            assert time.process_time() - cpu < 0.3  # a busy loop would burn about a full second
        finally:
            worker.stop()
            thread.join(10)


def test_an_idle_worker_picks_up_a_delayed_job_when_it_is_due(queue):
    worker = Worker(queue)
    thread = start(worker)
    try:
        enqueued = time.monotonic()
        queue.enqueue(jobfuncs.record, args=("due",), delay_seconds=0.3)
        assert jobfuncs.started.wait(5)
        assert 0.25 <= time.monotonic() - enqueued < 2.0
    finally:
        worker.stop()
        thread.join(10)


def test_a_long_job_keeps_its_lease_while_it_runs(tmp_path):
    path = str(tmp_path / "q.duckdb")
    for concurrency in (1, 2):
        with DuckQueue(path, visibility_timeout=0.3) as q, DuckQueue(path, visibility_timeout=0.3) as other:
            jobfuncs.reset()
            job_id = q.enqueue(jobfuncs.record_and_nap, args=("long", 1.0))
            worker = Worker(q, concurrency=concurrency)
            thread = start(worker, burst=True)
            assert jobfuncs.started.wait(5)
            stolen = []
            while thread.is_alive():
                job = other.claim()
                if job is not None:
                    stolen.append(job)
                time.sleep(0.05)
            thread.join()
            assert stolen == [], f"concurrency={concurrency}: a running job was claimed by someone else"
            record = q.get_job(job_id)
            assert record.status == JobStatus.DONE and record.attempts == 1
            assert jobfuncs.ran == ["long"]


def test_a_running_worker_takes_back_a_job_whose_lease_expired(tmp_path):
    with DuckQueue(str(tmp_path / "q.duckdb"), visibility_timeout=0.3) as q:
        job_id = q.enqueue(jobfuncs.record, args=("abandoned",))
        assert q.claim() is not None  # and never acknowledged
        worker = Worker(q)
        thread = start(worker)
        try:
            assert jobfuncs.started.wait(5)  # the worker woke up for the lease's end by itself
            assert wait_until(lambda: q.get_job(job_id).status == JobStatus.DONE)
            assert q.get_job(job_id).attempts == 2
        finally:
            worker.stop()
            thread.join(10)


# -- signals ----------------------------------------------------------------------------------------
def test_sigterm_stops_the_worker_and_restores_the_handlers(queue):
    calls = []

    def previous(signum, frame):
        calls.append(signum)

    old_term = signal.signal(signal.SIGTERM, previous)
    old_int = signal.getsignal(signal.SIGINT)
    try:
        first = queue.enqueue(jobfuncs.terminate_own_process, args=("first",))
        rest = queue.enqueue_batch([(jobfuncs.record, (n,), None) for n in range(5)])
        processed = Worker(queue).run()  # not burst: only the signal ends it
        assert processed == 1
        assert queue.get_job(first).status == JobStatus.DONE
        assert all(queue.get_job(i).status == JobStatus.PENDING for i in rest)
        assert all(queue.get_job(i).attempts == 0 for i in rest)
        assert signal.getsignal(signal.SIGTERM) is previous
        assert signal.getsignal(signal.SIGINT) is old_int
        assert calls == []  # the worker's handler took the signal, not the previous one
    finally:
        signal.signal(signal.SIGTERM, old_term)


def test_a_worker_off_the_main_thread_leaves_signals_alone(queue):
    before = signal.getsignal(signal.SIGTERM)
    worker = Worker(queue)
    thread = start(worker)
    time.sleep(0.1)
    assert signal.getsignal(signal.SIGTERM) is before
    worker.stop()
    thread.join(10)
    assert not thread.is_alive()


def test_sigterm_to_a_worker_process_stops_it_cleanly(db_path):
    with DuckQueue(db_path) as q:
        ids = q.enqueue_batch([(jobfuncs.record_and_nap, (n, 0.3), None) for n in range(20)])
    script = f"""
import signal, sys
from queuack import DuckQueue, Worker
q = DuckQueue({db_path!r})
before = signal.getsignal(signal.SIGTERM)
worker = Worker(q, concurrency=2)
print("running", flush=True)
processed = worker.run()
print("processed", processed, signal.getsignal(signal.SIGTERM) is before, flush=True)
q.close()
"""
    process = python_process(script, stdout=-1, stderr=-1, text=True)
    assert process.stdout.readline().strip() == "running"
    time.sleep(0.8)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    words = out.split()
    assert words[0] == "processed" and words[2] == "True"
    processed = int(words[1])
    with DuckQueue(db_path) as q:
        stats = q.stats()
        assert stats["claimed"] == 0
        assert stats["done"] == processed >= 1
        assert stats["pending"] == 20 - processed
        assert all(q.get_job(i).attempts == 0 for i in ids if q.get_job(i).status == JobStatus.PENDING)


# -- many claimers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shared", [False, True], ids=["own-handles", "one-handle"])
def test_eight_threads_claim_every_job_exactly_once(db_path, shared):
    total = 2000
    with DuckQueue(db_path) as q:
        q.enqueue_batch([(jobfuncs.echo, (n,), None) for n in range(total)])
    main = DuckQueue(db_path)
    claimed: list[list[str]] = [[] for _ in range(8)]
    errors = []
    barrier = threading.Barrier(8)

    def claimer(slot: int) -> None:
        q = main if shared else DuckQueue(db_path)
        try:
            barrier.wait()
            size = 2 + slot * 3
            while True:
                jobs = q.claim_batch(size) if slot else [q.claim()]
                jobs = [j for j in jobs if j is not None]
                if not jobs:
                    return
                for job in jobs:
                    claimed[slot].append(job.id)
                    if len(claimed[slot]) % 10 == 0:
                        if not q.ack(job, result=job.id):
                            errors.append(f"ack refused for {job.id}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            if not shared:
                q.close()

    threads = [threading.Thread(target=claimer, args=(slot,)) for slot in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    try:
        assert errors == []
        everything = [job_id for ids in claimed for job_id in ids]
        assert len(everything) == total
        assert len(set(everything)) == total  # no job claimed twice
        assert sum(1 for ids in claimed if ids) >= 2  # they really took turns
        stats = main.stats()
        assert stats["pending"] == 0 and stats["claimed"] + stats["done"] == total
    finally:
        main.close()


@pytest.mark.parametrize("concurrency", [1, 2])
def test_a_function_the_worker_cannot_import_stops_it_and_spends_no_attempt(queue, concurrency, tmp_path,
                                                                           monkeypatch):
    from queuack import TaskImportError

    (tmp_path / "vanishing_tasks.py").write_text("def work(n):\n    return n\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import vanishing_tasks

    ids = [queue.enqueue(vanishing_tasks.work, args=(n,), max_attempts=1) for n in range(3)]
    monkeypatch.delitem(sys.modules, "vanishing_tasks")
    sys.path.remove(str(tmp_path))  # the worker now runs where the module cannot be imported
    with pytest.raises(TaskImportError, match="cannot import the job function vanishing_tasks.work"):
        Worker(queue, concurrency=concurrency).run(burst=True)
    assert [(queue.get_job(i).status.value, queue.get_job(i).attempts) for i in ids] == [("pending", 0)] * 3
    sys.path.insert(0, str(tmp_path))  # fixed: the jobs run
    Worker(queue, concurrency=concurrency).run(burst=True)
    assert [queue.get_result(i) for i in ids] == [0, 1, 2]


def test_threads_claim_short_jobs_in_few_statements(queue, monkeypatch):
    store = queue._live_store()
    claims = []
    real_claim = store.claim

    def counting_claim(*args, **kwargs):
        jobs = real_claim(*args, **kwargs)
        claims.append(len(jobs))
        return jobs

    monkeypatch.setattr(store, "claim", counting_claim)
    ids = queue.enqueue_batch([(jobfuncs.echo, (n,), None) for n in range(600)])
    Worker(queue, concurrency=4).run(burst=True)
    assert [queue.get_result(i) for i in ids] == list(range(600))
    # sized by time, as with one thread: not two jobs per thread at a time (which took 75 claims)
    assert len([c for c in claims if c]) < 20


def test_an_exception_without_a_message_is_recorded_by_its_name(queue):
    job_id = queue.enqueue(jobfuncs.raise_without_message, max_attempts=1)
    Worker(queue).run(burst=True)
    record = queue.get_job(job_id)
    assert record.status == JobStatus.FAILED and record.error == "MemoryError"
    assert "in raise_without_message" in record.traceback and record.traceback.rstrip().endswith("MemoryError")
