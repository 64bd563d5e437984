"""The trust boundary: a queue set to JSON never unpickles, and workers run only allowed functions.

The tests play someone who can write the database file: they rewrite rows with plain SQL while no
queue has the file open, then let a worker of this process read them.
"""

from __future__ import annotations

import os
import sys
import uuid

import duckdb
import pytest

from queuack import DuckQueue, JobStatus, UntrustedError, Worker

from . import jobfuncs
from .conftest import python_process
from .test_cli import queuack


class OpensAFile:
    """Unpickling this calls open(path, "w"): the file appears if anything unpickles it."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def tamper(path: str, sql: str, params=()) -> None:
    with duckdb.connect(path) as conn:
        conn.execute("SET schema = 'queuack'")  # where the queue's tables live
        conn.execute(sql, list(params))


def untrusted_module(tmp_path, monkeypatch) -> tuple[str, str]:
    """A module that no code of this process has imported or enqueued from: (its name, the
    marker file its function `run` creates)."""
    name = f"untrusted_{uuid.uuid4().hex[:8]}"
    marker = tmp_path / f"{name}.ran"
    (tmp_path / f"{name}.py").write_text(
        f"def run(text):\n    open({str(marker)!r}, 'w').write(text)\n    return text\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return name, str(marker)


def failed_because(q: DuckQueue, job_id: str, *words: str) -> str:
    job = q.get_job(job_id)
    assert job.status is JobStatus.FAILED and job.attempts == 1, (job.status, job.error)
    assert "UntrustedError" in job.error and all(w in job.error for w in words), job.error
    return job.error


# -- a JSON queue never unpickles ------------------------------------------------------------------

def test_a_json_worker_refuses_a_row_stored_with_pickle(db_path, tmp_path):
    marker = tmp_path / "unpickled"
    with DuckQueue(db_path) as pickled:
        job_id = pickled.enqueue(jobfuncs.echo, args=(OpensAFile(marker),), max_attempts=3)
    assert not marker.exists()
    with DuckQueue(db_path, serializer="json") as q:
        Worker(q).run(burst=True)
        failed_because(q, job_id, "stored with pickle", "serializer='json'", "never unpickles")
        with pytest.raises(UntrustedError, match="never unpickles"):
            q.get_job(job_id).execute()
    assert not marker.exists()


def test_a_json_queue_refuses_a_pickled_result(db_path, tmp_path):
    marker = tmp_path / "unpickled"
    with DuckQueue(db_path) as pickled:
        job_id = pickled.enqueue(jobfuncs.echo, args=("fine",))
        job = pickled.claim()
        pickled.ack(job, result=OpensAFile(marker))
    with DuckQueue(db_path, serializer="json") as q:
        with pytest.raises(UntrustedError, match=f"the result of job {job_id} is stored with pickle"):
            q.get_result(job_id)
    assert not marker.exists()


def test_a_json_task_refuses_a_pickled_upstream_result(db_path, tmp_path):
    marker = tmp_path / "unpickled"
    with DuckQueue(db_path) as pickled:
        parent = pickled.enqueue(jobfuncs.echo, args=("fine",))
        pickled.ack(pickled.claim(), result=OpensAFile(marker))
    with DuckQueue(db_path, serializer="json") as q:
        child = q.enqueue(jobfuncs.parent_results, depends_on=parent)
        Worker(q).run(burst=True)
        failed_because(q, child, f"upstream job {parent} is stored with pickle")
    assert not marker.exists()


def test_a_pickle_queue_reads_rows_of_both_codecs(db_path):
    with DuckQueue(db_path) as pickled:
        first = pickled.enqueue(jobfuncs.echo, args=({1, 2},))
    with DuckQueue(db_path, serializer="json") as as_json:
        second = as_json.enqueue(jobfuncs.echo, args=([3],))
    with DuckQueue(db_path) as pickled:
        Worker(pickled).run(burst=True)
        assert pickled.get_result(first) == {1, 2} and pickled.get_result(second) == [3]


# -- the allow-list ---------------------------------------------------------------------------------

def test_a_json_row_naming_os_system_does_not_run(db_path, tmp_path):
    marker = tmp_path / "shell-ran"
    with DuckQueue(db_path, serializer="json") as q:
        job_id = q.enqueue(jobfuncs.echo, args=(f"touch {marker}",))
    tamper(db_path, "UPDATE jobs SET func = 'os:system'::BLOB WHERE id = ?", [job_id])
    with DuckQueue(db_path, serializer="json") as q:
        Worker(q).run(burst=True)
        error = failed_because(q, job_id, "os:system", "may not run", "allow")
        assert "only the functions this process enqueued" in error
    assert not marker.exists()


def test_an_allowed_module_does_not_lend_out_what_it_imported(db_path, tmp_path):
    marker = tmp_path / "shell-ran"
    with DuckQueue(db_path, serializer="json") as q:
        job_id = q.enqueue(jobfuncs.echo, args=(f"touch {marker}",))
    # runtime.jobfuncs imports os: os.system is reachable as an attribute of an allowed module
    tamper(db_path, "UPDATE jobs SET func = 'runtime.jobfuncs:os.system'::BLOB WHERE id = ?", [job_id])
    with DuckQueue(db_path, serializer="json", allow=["runtime.jobfuncs"]) as q:
        Worker(q).run(burst=True)
        failed_because(q, job_id, "names runtime.jobfuncs:os.system, which is", "by its own module and name")
    assert not marker.exists()


def test_a_refused_module_is_never_imported_and_allowing_it_runs_the_job(db_path, tmp_path, monkeypatch):
    module, marker = untrusted_module(tmp_path, monkeypatch)
    with DuckQueue(db_path, serializer="json", retry_backoff=0) as q:
        job_id = q.enqueue(jobfuncs.echo, args=("hello",))
    tamper(db_path, "UPDATE jobs SET func = ?::BLOB WHERE id = ?", [f"{module}:run", job_id])
    with DuckQueue(db_path, serializer="json") as q:
        Worker(q, allow=["queuack", "runtime.jobfuncs:echo"]).run(burst=True)
        failed_because(q, job_id, f"{module}:run", "queuack, runtime.jobfuncs:echo")
        assert module not in sys.modules and not os.path.exists(marker)

        q.retry_dead_letter(job_id)
        Worker(q, allow=[module]).run(burst=True)  # a module name allows its functions
        assert q.get_result(job_id) == "hello" and os.path.exists(marker)


def test_the_queue_allow_list_reaches_its_workers_and_job_execute(db_path, tmp_path, monkeypatch):
    module, marker = untrusted_module(tmp_path, monkeypatch)
    with DuckQueue(db_path, serializer="json") as q:
        q.enqueue(jobfuncs.echo, args=("one",))
        second = q.enqueue(jobfuncs.echo, args=("two",))
    tamper(db_path, "UPDATE jobs SET func = ?::BLOB", [f"{module}:run"])
    with DuckQueue(db_path, serializer="json", allow=f"{module}:run") as q:  # one function, as a string
        job = q.claim()
        assert q.ack(job, result=job.execute()) and q.get_result(job.id) == "one"
        assert Worker(q).run(burst=True) == 1 and q.get_result(second) == "two"
    assert os.path.exists(marker)


def test_a_pickle_worker_runs_any_function_unless_given_an_allow_list(db_path, tmp_path, monkeypatch):
    module, marker = untrusted_module(tmp_path, monkeypatch)
    # another process enqueues it: this process has never named the function itself
    child = python_process(
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import {module}\n"
        "from queuack import DuckQueue\n"
        f"with DuckQueue({db_path!r}) as q:\n"
        f"    q.enqueue({module}.run, args=('a',))\n"
        f"    q.enqueue({module}.run, args=('b',))\n")
    assert child.wait(timeout=60) == 0
    with DuckQueue(db_path, retry_backoff=0) as q:
        Worker(q, allow=["runtime", "queuack"]).run(burst=True)  # refuses both...
        first, second = (j.id for j in q.list_dead_letters())
        failed_because(q, first, f"{module}:run", "runtime, queuack")
        assert module not in sys.modules and not os.path.exists(marker)
        q.retry_dead_letter(first)
        Worker(q).run(burst=True)                                  # ...the default runs any function
        assert q.get_result(first) in ("a", "b") and os.path.exists(marker)


def test_allow_entries_are_checked_when_given():
    with pytest.raises(ValueError, match="is not a module name"):
        DuckQueue(serializer="json", allow=["my app"])
    with pytest.raises(TypeError, match="allow entries are"):
        Worker(DuckQueue(), allow=[42])


def test_queuack_worker_takes_the_serializer_and_an_allow_list(db_path, tmp_path, monkeypatch):
    module, marker = untrusted_module(tmp_path, monkeypatch)
    pickled_marker = tmp_path / "unpickled"
    with DuckQueue(db_path) as q:
        pickled = q.enqueue(jobfuncs.echo, args=(OpensAFile(pickled_marker),))
    with DuckQueue(db_path, serializer="json") as q:
        named = q.enqueue(jobfuncs.echo, args=("hi",))
    tamper(db_path, "UPDATE jobs SET func = ?::BLOB WHERE id = ?", [f"{module}:run", named])
    ran = queuack("worker", db_path, "--serializer", "json", "--burst", "--path", str(tmp_path))
    assert ran.returncode == 0 and "2 failed for good" in ran.stdout, ran.stderr
    with DuckQueue(db_path) as q:
        failed_because(q, pickled, "never unpickles")
        failed_because(q, named, f"{module}:run", "only the functions this process enqueued")
        q.retry_dead_letter(named)
    ran = queuack("worker", db_path, "--serializer", "json", "--allow", module, "--burst", "--path", str(tmp_path))
    assert ran.returncode == 0 and "1 done" in ran.stdout, ran.stderr
    assert os.path.exists(marker) and not pickled_marker.exists()

    bad = queuack("worker", db_path, "--allow", "not a module")
    assert bad.returncode == 2 and "'not a module' is not a module name" in bad.stderr
