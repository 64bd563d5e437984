"""A full disk: clear errors, a worker that waits and goes on, nothing stored lost.

Each test runs in a child process whose file size limit (RLIMIT_FSIZE, with SIGXFSZ ignored) makes
DuckDB's own writes fail the way they do on a full disk, without root or a special mount.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from queuack import DuckQueue, JobStatus

from .conftest import python_process

PRELUDE = """
import json, logging, os, resource, signal, sys, threading, time
from queuack import DuckQueue, StorageWriteError, Worker
from runtime import jobfuncs
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails with EFBIG instead
SOFT, HARD = resource.getrlimit(resource.RLIMIT_FSIZE)

def disk_full(limit=1):
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, HARD))

def space_again():
    resource.setrlimit(resource.RLIMIT_FSIZE, (HARD, HARD))

class Seen(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages, self.event = [], threading.Event()
    def emit(self, record):
        self.messages.append(record.getMessage())
        self.event.set()

def until(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
"""


def run_child(script: str) -> dict:
    process = python_process(PRELUDE + script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_worker_waits_out_a_full_disk_and_records_everything_once_space_returns(db_path, concurrency):
    report = run_child(f"""
q = DuckQueue({db_path!r})
ids = q.enqueue_batch([(jobfuncs.nap, (0.02, n), None) for n in range(30)])
seen = Seen()
logging.getLogger("queuack.worker").addHandler(seen)
disk_full()
worker = Worker(q, concurrency={concurrency})
thread = threading.Thread(target=worker.run, daemon=True)
thread.start()
assert seen.event.wait(60), "the worker never hit the full disk"
time.sleep(0.5)                                   # a few retries
report = {{"alive": thread.is_alive(), "warning": seen.messages[0], "stats_while_full": q.stats()}}
try:
    q.enqueue_batch([(jobfuncs.echo, (1,), None)] * 2)
except StorageWriteError as exc:
    report["enqueue_batch"] = str(exc)
try:
    q.enqueue(jobfuncs.echo, args=(1,))
except StorageWriteError as exc:
    report["enqueue"] = str(exc)
space_again()
until(lambda: q.stats()["done"] == 30)
worker.stop()
thread.join(30)
report["stopped"] = not thread.is_alive()
report["stats"] = q.stats()
report["ids"] = ids
q.close()
print(json.dumps(report))
""")
    assert report["alive"] and report["stopped"]
    assert "Could not write file" in report["warning"]  # DuckDB's own failure, not a simulation of it
    assert "the disk is full" in report["warning"] and "trying again" in report["warning"]
    assert report["stats_while_full"]["claimed"] >= 1  # held by the worker, not lost
    for what in ("enqueue_batch", "enqueue"):
        assert report[what].startswith(f"cannot write to {db_path}")
        assert "the disk is full" in report[what] and "Free disk space" in report[what]
    assert report["stats"] == {"pending": 0, "claimed": 0, "done": 30, "failed": 0, "delayed": 0, "skipped": 0}
    with DuckQueue(db_path) as q:
        assert [q.get_result(i) for i in report["ids"]] == list(range(30))
        assert all(q.get_job(i).attempts == 1 for i in report["ids"])


def test_a_checkpoint_that_fails_on_a_full_disk_does_not_fail_the_committed_write(db_path):
    """DuckDB's automatic checkpoint, on failure, reports an error for a commit that is durable and
    invalidates the database. The store checkpoints after the commit instead, and reopens. (The
    log size that triggers a checkpoint is lowered so that a few small writes reach it.)"""
    report = run_child(f"""
from queuack import store
store._CHECKPOINT_WAL_BYTES = 32 * 1024
q = DuckQueue({db_path!r})
for _ in range(4):
    q.enqueue_batch([(jobfuncs.echo, (os.urandom(2**20),), None)])   # a file too big to grow...
q.close()
q = DuckQueue({db_path!r})
disk_full(os.path.getsize({db_path!r}))                              # ...any further
seen = Seen()
logging.getLogger("queuack.store").addHandler(seen)
ids = []
for n in range(20):                                                  # small writes: they go to the log
    ids += q.enqueue_batch([(jobfuncs.echo, ("x" * 2000,), None)] * 5)
report = {{"checkpoint_warning": seen.messages[:1], "stats": q.stats()}}
space_again()
ids += q.enqueue_batch([(jobfuncs.echo, (n,), None) for n in range(3)])
report["stats_after"] = q.stats()
report["ids"] = ids
q.close()
print(json.dumps(report))
""")
    assert report["checkpoint_warning"] and "will retry" in report["checkpoint_warning"][0]
    assert report["stats"]["pending"] == 4 + 100
    assert report["stats_after"]["pending"] == 4 + 100 + 3
    with DuckQueue(db_path) as q:
        assert all(q.get_job(i).status == JobStatus.PENDING for i in report["ids"])
        assert q.stats()["pending"] == 107


def test_a_first_enqueue_on_a_full_disk_raises_storage_write_error_and_leaves_no_journal(db_path):
    # the first lone enqueue creates the journal: writing its header used to raise a raw OSError
    report = run_child(f"""
q = DuckQueue({db_path!r})
disk_full(0)
try:
    q.enqueue(jobfuncs.echo, args=(1,))
    error = None
except StorageWriteError as exc:
    error = str(exc)
space_again()
journal = os.path.exists({db_path!r} + ".queuack-journal")
q.enqueue(jobfuncs.echo, args=(2,))
print(json.dumps({{"error": error, "journal": journal, "pending": q.stats()["pending"]}}))
q.close()
""")
    assert report["error"] is not None and "the disk is full" in report["error"]
    assert "queuack-journal" in report["error"] and "Nothing of this change was stored" in report["error"]
    assert report["journal"] is False and report["pending"] == 1
