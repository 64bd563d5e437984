"""Large arguments and results live in files beside the database, once, and come back whole."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from queuack import DuckQueue, Worker
from queuack.values import LARGE, REF_PREFIX

from . import jobfuncs
from .conftest import subprocess_env

BIG = LARGE + 1000


def values_dir(path: str) -> str:
    return path + ".queuack-values"


def stored_result(q: DuckQueue, job_id: str) -> bytes:
    return q._live_store().query("SELECT result FROM jobs WHERE id = ?", [job_id])[0][0]


def test_a_large_result_is_a_file_and_comes_back_whole(db_path):
    with DuckQueue(db_path) as q:
        job_id = q.enqueue(jobfuncs.make_bytes, args=(BIG,))
        small = q.enqueue(jobfuncs.make_bytes, args=(10,))
        Worker(q).run(burst=True)
        assert q.get_result(job_id) == b"x" * BIG
        assert q.get_job(job_id).result is not None
        assert stored_result(q, job_id).startswith(REF_PREFIX)     # the row holds only a reference
        assert not stored_result(q, small).startswith(REF_PREFIX)  # small values stay in the row
        assert os.listdir(values_dir(db_path)) == [f"{job_id}.1.result"]
    with DuckQueue(db_path) as q:  # and after a reopen
        assert q.get_result(job_id) == b"x" * BIG


def test_a_large_result_on_a_memory_queue_comes_back_whole():
    q = DuckQueue()
    job_id = q.enqueue(jobfuncs.make_bytes, args=(BIG,))
    Worker(q).run(burst=True)
    assert q.get_result(job_id) == b"x" * BIG
    q.close()


@pytest.mark.parametrize("batch", [False, True])
def test_a_large_argument_reaches_its_task(queue, batch):
    value = os.urandom(BIG)
    if batch:
        [job_id] = queue.enqueue_batch([(jobfuncs.echo, (value,), {})])
    else:
        job_id = queue.enqueue(jobfuncs.echo, kwargs={"value": value})
    Worker(queue).run(burst=True)
    assert queue.get_result(job_id) == value
    assert queue.get_job(job_id).execute() == value


def test_a_large_parent_result_reaches_its_child_through_the_context(queue):
    with queue.dag("big") as dag:
        dag.enqueue(jobfuncs.make_bytes, name="make_bytes", args=(BIG,))
        child = dag.enqueue(jobfuncs.parent_results, name="child", depends_on="make_bytes")
    Worker(queue).run(burst=True)
    assert queue.get_result(child) == [b"x" * BIG]


def test_a_large_argument_survives_a_crash_right_after_enqueue(db_path):
    code = (f"import os, sys; from queuack import DuckQueue; from runtime import jobfuncs\n"
            f"q = DuckQueue({db_path!r})\n"
            f"print(q.enqueue(jobfuncs.echo, args=(b'y' * {BIG},)), flush=True)\n"
            f"os._exit(0)\n")  # no close: the job exists only in the journal and the value file
    job_id = subprocess.run([sys.executable, "-c", code], env=subprocess_env(), capture_output=True,
                            text=True, check=True).stdout.strip()
    with DuckQueue(db_path) as q:
        Worker(q).run(burst=True)
        assert q.get_result(job_id) == b"y" * BIG


def test_files_that_no_row_refers_to_are_removed_at_open(db_path):
    with DuckQueue(db_path) as q:
        job_id = q.enqueue(jobfuncs.make_bytes, args=(BIG,))
        Worker(q).run(burst=True)
    orphan = os.path.join(values_dir(db_path), "0f8e4c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b.args")
    with open(orphan, "wb") as fh:  # as left by a crash before its row was stored
        fh.write(b"z" * 10)
    with DuckQueue(db_path) as q:
        assert os.listdir(values_dir(db_path)) == [f"{job_id}.1.result"]
        assert q.get_result(job_id) == b"x" * BIG


def test_the_result_of_a_stale_attempt_leaves_no_file(db_path):
    with DuckQueue(db_path, visibility_timeout=0.2) as q:
        job_id = q.enqueue(jobfuncs.make_bytes, args=(BIG,))
        first = q.claim()
        time.sleep(0.3)  # the lease runs out; the job goes to the next claim
        second = q.claim()
        assert q.ack(first, result=b"old" * BIG) is False
        assert q.ack(second, result=second.execute()) is True
        assert os.listdir(values_dir(db_path)) == [f"{job_id}.2.result"]
        assert q.get_result(job_id) == b"x" * BIG


def test_purge_removes_the_value_files_of_the_jobs_it_deletes(db_path):
    with DuckQueue(db_path) as q:
        q.enqueue(jobfuncs.echo, args=(b"a" * BIG,))
        Worker(q).run(burst=True)
        assert len(os.listdir(values_dir(db_path))) == 2  # the argument and the result
        assert q.purge(older_than_hours=0) == 1
        assert os.listdir(values_dir(db_path)) == []


def test_a_missing_value_file_is_a_clear_error(db_path):
    with DuckQueue(db_path) as q:
        job_id = q.enqueue(jobfuncs.make_bytes, args=(BIG,))
        Worker(q).run(burst=True)
    os.remove(os.path.join(values_dir(db_path), f"{job_id}.1.result"))
    with DuckQueue(db_path) as q:
        with pytest.raises(FileNotFoundError, match="moved or restored without the directory"):
            q.get_result(job_id)


def test_queuack_copy_carries_large_values_to_postgres_and_back(pg_url, tmp_path):
    source = str(tmp_path / "jobs.duckdb")
    with DuckQueue(source) as q:
        done = q.enqueue(jobfuncs.make_bytes, args=(BIG,))
        Worker(q).run(burst=True)
        waiting = q.enqueue(jobfuncs.echo, args=(b"w" * BIG,))
    copy = [sys.executable, "-m", "queuack", "copy"]
    result = subprocess.run([*copy, source, pg_url], env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    with DuckQueue(pg_url) as pq:
        assert pq.get_result(done) == b"x" * BIG  # the value itself, not the file's reference
    back = str(tmp_path / "back.duckdb")
    result = subprocess.run([*copy, pg_url, back], env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    with DuckQueue(back) as q:
        assert sorted(os.listdir(values_dir(back))) == sorted([f"{done}.1.result", f"{waiting}.args"])
        Worker(q).run(burst=True)
        assert q.get_result(done) == b"x" * BIG and q.get_result(waiting) == b"w" * BIG
