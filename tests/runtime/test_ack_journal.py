"""A user's own ack() is durable when it returns: journalled and synced (see journal.py), it reaches
DuckDB with the next statement, and after a kill -9 it is replayed at open, before crash recovery."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from queuack import DuckQueue, JobStatus, Worker
from queuack.journal import MAGIC

from . import jobfuncs
from .conftest import python_process
from .test_disk_full import run_child

BIG = 300 * 1024  # stored in a file of its own (values.py)


def run_then_kill(script: str) -> dict:
    """Run a script that prints one JSON line and then kills itself with SIGKILL."""
    process = python_process(script + "\nprint(json.dumps(out), flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n",
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL, err
    return json.loads(out)


PRELUDE = """
import json, os, signal
from queuack import DuckQueue
from runtime import jobfuncs
q = DuckQueue({db!r})
"""


def test_acks_that_returned_survive_a_kill_with_their_results(tmp_path):
    db = str(tmp_path / "queue.duckdb")
    out = run_then_kill(PRELUDE.format(db=db) + """
ids = q.enqueue_batch([(jobfuncs.echo, (n,), {}) for n in range(12)])
jobs = q.claim_batch(12)
q.ack(jobs[8].id, error="try again")
q.nack(jobs[9].id)
q.nack(jobs[10].id, requeue=False)
acked = []
for job in jobs[:8]:  # the last statements: these acks are only in the journal when the process dies
    n = job.execute()
    assert q.ack(job.id, result=("big" * 100_000) if n == 0 else n * 10)
    acked.append(job.id)
out = {"acked": acked, "error": jobs[8].id, "requeued": jobs[9].id, "rejected": jobs[10].id, "held": jobs[11].id,
       "values": [j.execute() for j in jobs]}
""")
    journal = Path(db + ".queuack-outcomes")
    assert journal.stat().st_size > 8 * 30  # the acks were still only in the journal
    with open(journal, "ab") as fh:
        fh.write(MAGIC + b"\x10\x00\x00\x00torn")  # a record cut short by the crash: an ack that never returned
    with DuckQueue(db, read_only=True) as q:  # a read-only look shows them done, and writes nothing
        assert q.stats()["done"] == 8
    assert journal.exists()
    with DuckQueue(db) as q:
        value = dict(zip(out["acked"], out["values"]))
        assert 0 in value.values()  # the large result is among them
        for job_id in out["acked"]:
            job = q.get_job(job_id)
            assert (job.status, job.attempts) == (JobStatus.DONE, 1)  # neither run again nor charged
            expected = "big" * 100_000 if value[job_id] == 0 else value[job_id] * 10
            assert q.get_result(job_id) == expected
        error = q.get_job(out["error"])
        assert (error.attempts, error.error) == (1, "try again")  # runs again after its backoff
        assert error.status in (JobStatus.DELAYED, JobStatus.PENDING)
        assert (q.get_job(out["requeued"]).status, q.get_job(out["requeued"]).attempts) == (JobStatus.PENDING, 0)
        assert q.get_job(out["rejected"]).status is JobStatus.FAILED
        assert q.get_job(out["held"]).status is JobStatus.PENDING  # held by the dead process: recovered
    assert not journal.exists()  # replayed, then removed
    with DuckQueue(db) as q:  # replaying again changes nothing
        assert q.stats()["done"] == 8


def test_a_parents_ack_makes_its_child_claimable_at_once_and_after_a_kill(tmp_path):
    db = str(tmp_path / "queue.duckdb")
    out = run_then_kill(PRELUDE.format(db=db) + """
parent = q.enqueue(jobfuncs.echo, args=(5,))
child = q.enqueue(jobfuncs.add, args=(1, 2), depends_on=parent)
assert [j.id for j in q.claim_batch(5)] == [parent]
q.ack(parent, result=5)
claimed = [j.id for j in q.claim_batch(5)]  # the schedule followed the ack
q.nack(child)
out = {"parent": parent, "child": child, "claimed": claimed}
""")
    assert out["claimed"] == [out["child"]]
    with DuckQueue(db) as q:
        assert q.get_job(out["parent"]).status is JobStatus.DONE
        assert q.get_result(out["parent"]) == 5
        Worker(q).run(burst=True)
        assert q.get_result(out["child"]) == 3


def test_an_ack_then_a_kill_before_any_other_statement(tmp_path):
    """The last thing the process did was a journalled ack of a claim that lived only in memory."""
    db = str(tmp_path / "queue.duckdb")
    with DuckQueue(db) as q:
        job_id = q.enqueue(jobfuncs.echo, args=(1,))
    out = run_then_kill(PRELUDE.format(db=db) + """
job = q.claim()
assert q.ack(job.id, result="ok")
out = {"id": job.id}
""")
    with DuckQueue(db) as q:
        assert out["id"] == job_id
        assert q.get_job(job_id).status is JobStatus.DONE and q.get_result(job_id) == "ok"


def test_acks_reach_the_database_before_other_statements(tmp_path):
    db = str(tmp_path / "queue.duckdb")
    with DuckQueue(db) as q:
        ids = q.enqueue_batch([(jobfuncs.echo, (n,), {}) for n in range(4)])
        for job in q.claim_batch(4):
            q.ack(job, result=job.execute())
        assert q.stats()["done"] == 4  # a statement after the acks sees them
        assert [q.get_result(i) for i in ids] == [0, 1, 2, 3]
        stale = q.enqueue(jobfuncs.echo, args=(9,))
        job = q.claim()
        assert job.id == stale and q.ack(job, result=9)
        assert not q.ack(job, result=10)  # its claim is gone: ignored, as before
        assert q.get_result(stale) == 9
    assert not Path(db + ".queuack-outcomes").exists()  # a clean close leaves no journal



def test_an_ack_on_a_full_disk_raises_storage_write_error_and_the_claim_stays(db_path):
    report = run_child(f"""
q = DuckQueue({db_path!r})
job_id = q.enqueue(jobfuncs.echo, args=(1,))
job = q.claim()
disk_full(0)
try:
    q.ack(job.id, result=1)
    error = None
except StorageWriteError as exc:
    error = str(exc)
space_again()
status = q.get_job(job_id).status.value
acked = q.ack(job.id, result=2)  # the same claim, acked again once there is space
print(json.dumps({{"error": error, "status": status, "acked": acked, "result": q.get_result(job_id)}}))
q.close()
""")
    assert report["error"] is not None and "the disk is full" in report["error"]
    assert "queuack-outcomes" in report["error"]
    assert report["status"] == "claimed" and report["acked"] is True and report["result"] == 2
