"""queuack 0.1's background workers (WorkerPool, DuckQueue(workers_num=, worker_concurrency=),
start_workers/stop_workers) and backpressure on enqueue."""

from __future__ import annotations

import threading
import time

import pytest

from queuack import DAG, BackpressureError, DuckQueue, JobStatus, WorkerPool

GATE = threading.Event()
RUNNING = threading.Semaphore(0)


def double(x):
    return x * 2


def held(x):
    RUNNING.release()
    GATE.wait(10)
    return x


def wait_done(q, ids, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(q.get_job(i).status is JobStatus.DONE for i in ids):
            return True
        time.sleep(0.01)
    return False


def test_with_workers_num_the_queue_runs_jobs_in_the_background(tmp_path):
    with DuckQueue(str(tmp_path / "q.db"), workers_num=2, worker_concurrency=2) as q:
        ids = [q.enqueue(double, args=(i,)) for i in range(6)]
        assert wait_done(q, ids)
        assert [q.get_result(i) for i in ids] == [0, 2, 4, 6, 8, 10]
        assert q._pool.num_workers == 2 and q._pool.concurrency == 2


def test_a_dag_on_such_a_queue_is_run_by_its_workers():
    with DuckQueue(workers_num=1) as q:
        with DAG("bg", queue=q) as dag:
            dag.add_node(double, name="a", args=(2,))
            dag.add_node(double, name="b", args=(3,), depends_on="a")
        assert dag.wait_for_completion(timeout=20, poll_interval=0.01)


def test_without_workers_num_nothing_runs_in_the_background():
    with DuckQueue() as q:
        job = q.enqueue(double, args=(1,))
        time.sleep(0.1)
        assert q.get_job(job).status is JobStatus.PENDING


def test_start_and_stop_workers_let_running_jobs_finish():
    GATE.clear()
    q = DuckQueue()
    pool = q.start_workers(num_workers=2, concurrency=1)
    assert isinstance(pool, WorkerPool) and len(pool.threads) == 2
    job = q.enqueue(held, args=(7,))
    assert RUNNING.acquire(timeout=10)
    stopper = threading.Thread(target=q.stop_workers)
    stopper.start()
    time.sleep(0.05)
    GATE.set()
    stopper.join(10)
    assert not pool.running
    assert q.get_result(job) == 7  # the running job finished and was recorded
    q.close()


def test_worker_pool_as_in_0_1():
    q = DuckQueue()
    ids = [q.enqueue(double, args=(i,)) for i in range(4)]
    with WorkerPool(q, num_workers=2, concurrency=1) as pool:
        assert wait_done(q, ids)
        assert pool.running
    assert not pool.running and pool.processed == 4
    assert pool.stop(timeout=1) is True  # stopping twice is harmless
    with pytest.raises(ValueError, match="num_workers must be an int >= 0"):
        WorkerPool(q, num_workers=-1)
    q.close()


def test_bad_worker_options_are_refused_and_no_effect_knobs_warn():
    with pytest.raises(ValueError, match=r"workers_num must be positive or None \(an int >= 1\)"):
        DuckQueue(workers_num=0)
    with pytest.warns(DeprecationWarning, match=r"values_threshold=...\) has no effect"):
        DuckQueue(values_threshold=10).close()
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        DuckQueue(worker_count=2)


class SmallQueue(DuckQueue):
    @classmethod
    def backpressure_warning_threshold(cls):
        return 2

    @classmethod
    def backpressure_block_threshold(cls):
        return 4


def test_backpressure_warns_then_refuses_and_can_be_skipped(caplog):
    q = SmallQueue()
    for i in range(2):
        q.enqueue(double, args=(i,))
    assert "waiting" not in caplog.text
    with pytest.warns(UserWarning, match="approaching limit 4"):
        for i in range(3):
            q.enqueue(double, args=(i,))  # 2, 3 and 4 waiting: warned once, when the threshold is reached
    assert caplog.text.count("jobs waiting") == 1
    assert "has 2 jobs waiting (approaching limit 4; warning at 2)" in caplog.text
    with pytest.raises(BackpressureError, match="overloaded: 5 jobs waiting"):
        q.enqueue(double, args=(9,))
    q.enqueue(double, args=(9,), check_backpressure=False)
    assert q.enqueue(double, args=(1,), queue="other")  # counted per queue
    assert q.stats("default")["pending"] == 6
    q.close()


def test_claimed_jobs_do_not_count_as_waiting():
    q = SmallQueue()
    for i in range(5):
        q.enqueue(double, args=(i,))
    q.claim()
    q.enqueue(double, args=(5,))  # 4 waiting + 1 claimed: allowed
    q.close()


def test_refusals_keep_the_words_of_0_1s_messages():
    with pytest.raises(ValueError, match="workers_num must be positive or None"):
        DuckQueue(workers_num=0)
    with pytest.raises(ValueError, match="worker_concurrency must be positive"):
        DuckQueue(worker_concurrency=-1)

    class Small(DuckQueue):
        @classmethod
        def backpressure_block_threshold(cls):
            return 2

    q = Small()
    for i in range(3):
        q.enqueue(len, args=("x",), check_backpressure=False)
    with pytest.raises(BackpressureError, match="overloaded: 3 jobs waiting"):
        q.enqueue(len, args=("x",))
