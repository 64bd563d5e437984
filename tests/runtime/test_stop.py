"""Stopping `queuack worker` with real signals: the first finishes the running jobs, the second stops
now and gives the running jobs back to the queue without counting their attempt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from queuack import DuckQueue

from . import jobfuncs
from .conftest import TESTS_DIR, subprocess_env


def start_worker(location: str, cwd, *options: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "queuack", "worker", location, "--path", str(TESTS_DIR), *options],
        cwd=cwd, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for_lines(path, count: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not (path.exists() and len(path.read_text().split()) >= count):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)


@pytest.mark.parametrize("backend,concurrency,pool", [("file", 1, "thread"), ("file", 2, "thread"),
                                                     ("postgres", 2, "thread"), ("file", 2, "process")])
def test_two_signals_stop_a_worker_stuck_in_a_hung_job(backend, concurrency, pool, tmp_path, request):
    location = request.getfixturevalue("pg_queue_url") if backend == "postgres" else str(tmp_path / "q.duckdb")
    log = tmp_path / "started.log"
    with DuckQueue(location) as q:
        hung = [q.enqueue(jobfuncs.append_to_log, args=(str(log), n, 600)) for n in range(concurrency)]
    process = start_worker(location, tmp_path, "--concurrency", str(concurrency), "--pool", pool,
                           "--visibility-timeout", "600")
    wait_for_lines(log, concurrency, process)
    children = _children_of(process.pid)

    process.send_signal(signal.SIGINT)
    with pytest.raises(subprocess.TimeoutExpired):  # the first signal waits for the running jobs
        process.wait(timeout=1.0)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)

    assert process.returncode == 0, err
    assert "SIGINT received: finishing the running jobs" in err and "send it again to stop now" in err
    assert "SIGTERM received again: stopping now" in err
    assert f"{concurrency} running job(s) returned to the queue" in err
    assert "Traceback" not in err
    assert out.startswith("processed 0 jobs")
    if pool == "process":  # the children running the hung jobs were killed
        assert "their child processes were killed" in err
        assert len(children) >= concurrency
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(c) for c in children)
    with DuckQueue(location) as q:
        for job_id in hung:
            job = q.get_job(job_id)
            assert (job.status.value, job.attempts) == ("pending", 0)
        assert q.stats()["claimed"] == 0


@pytest.mark.parametrize("concurrency,pool", [(1, "thread"), (2, "thread"), (2, "process")])
def test_the_first_signal_gives_back_the_prefetched_jobs_while_the_running_ones_go_on(concurrency, pool, tmp_path,
                                                                                      pg_queue_url):
    log = tmp_path / "started.log"
    with DuckQueue(pg_queue_url) as q:
        q.enqueue_batch([(jobfuncs.append_to_log, (str(log), n, 600), None) for n in range(concurrency + 3)])
    process = start_worker(pg_queue_url, tmp_path, "--concurrency", str(concurrency), "--pool", pool,
                           "--visibility-timeout", "600")
    try:
        wait_for_lines(log, concurrency, process)
        process.send_signal(signal.SIGTERM)
        with DuckQueue(pg_queue_url) as q:  # other workers can take them at once
            deadline = time.monotonic() + 60
            while q.stats()["pending"] < 3:
                assert process.poll() is None and time.monotonic() < deadline, q.stats()
                time.sleep(0.05)
            assert q.stats()["claimed"] == concurrency
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert f"stopped now: {concurrency} running job(s) returned to the queue" in err
    with DuckQueue(pg_queue_url) as q:
        assert q.stats()["pending"] == concurrency + 3


def test_a_single_signal_lets_the_running_job_finish(tmp_path):
    db = str(tmp_path / "q.duckdb")
    log = tmp_path / "started.log"
    with DuckQueue(db) as q:
        first = q.enqueue(jobfuncs.append_to_log, args=(str(log), 0, 1.5))
        second = q.enqueue(jobfuncs.append_to_log, args=(str(log), 1, 0))
    process = start_worker(db, tmp_path)
    wait_for_lines(log, 1, process)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "stopping now" not in err
    with DuckQueue(db) as q:
        assert q.get_job(first).status.value == "done"
        assert (q.get_job(second).status.value, q.get_job(second).attempts) == ("pending", 0)



def _children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
