"""What a new user meets first: the package's typing marker, quiet logging, readable reprs and log lines."""

from __future__ import annotations

import logging
import subprocess
import sys
import tomllib

from queuack import DuckQueue, JobStatus, Worker

from . import jobfuncs
from .conftest import REPO_DIR, subprocess_env


def test_the_package_ships_a_py_typed_marker():
    assert (REPO_DIR / "queuack" / "py.typed").is_file()
    config = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["queuack"]  # into the wheel


ACK_AN_UNCLAIMED_JOB = """
import logging, sys
from queuack import DuckQueue
from runtime import jobfuncs
if sys.argv[1:] == ["configured"]:
    logging.basicConfig(format="app log: %(name)s %(message)s")
q = DuckQueue()
q.ack(q.enqueue(jobfuncs.add, args=(1, 2)))   # logs a warning: the job is not claimed
"""


def test_the_library_logs_nothing_until_the_application_configures_logging():
    quiet = subprocess.run([sys.executable, "-c", ACK_AN_UNCLAIMED_JOB], capture_output=True, text=True,
                           env=subprocess_env(), timeout=60)
    assert quiet.returncode == 0 and quiet.stderr == ""
    configured = subprocess.run([sys.executable, "-c", ACK_AN_UNCLAIMED_JOB, "configured"], capture_output=True,
                                text=True, env=subprocess_env(), timeout=60)
    assert "app log: queuack job" in configured.stderr and "not claimed" in configured.stderr


def test_a_job_repr_is_short_and_names_the_function():
    with DuckQueue(retry_backoff=0) as q:
        job_id = q.enqueue(jobfuncs.fail, args=("x" * 500,), max_attempts=1)
        Worker(q).run(burst=True)
        job = q.get_job(job_id)
    text = repr(job)
    assert job.status is JobStatus.FAILED and "Traceback" in job.traceback
    assert text.startswith(f"Job(id={job_id!r}, function='runtime.jobfuncs.fail', status='failed', attempts=1/1")
    assert "error='ValueError: xxx" in text and "\\x" not in text and "Traceback" not in text and len(text) < 250


def test_a_worker_has_a_repr():
    with DuckQueue() as q:
        worker = Worker(q, queues=["mail"], concurrency=2, worker_id="w1")
        assert repr(worker) == "Worker(DuckQueue(':memory:'), queues=['mail'], concurrency=2, worker_id='w1', processed=0)"


def test_worker_log_lines_name_the_function_of_a_job_without_a_name(caplog):
    with DuckQueue(retry_backoff=0) as q:
        job_id = q.enqueue(jobfuncs.fail, max_attempts=1)
        with caplog.at_level(logging.WARNING, logger="queuack.worker"):
            Worker(q).run(burst=True)
    assert f"job {job_id} (runtime.jobfuncs.fail) attempt 1: ValueError: boom" in caplog.text
