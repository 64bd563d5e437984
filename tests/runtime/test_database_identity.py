"""Which databases queuack opens: its own, an older layout of its own (upgraded), an empty one.
Anything else is refused with nothing written, and the read-only commands never write."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from queuack import DuckQueue, NotAQueueDatabaseError, QueuackError, Worker
from queuack.cli import cli
from queuack.schema import SCHEMA_VERSION
from queuack.serialization import encode_args, encode_function

from . import jobfuncs
from .conftest import python_process

# The layout written by queuack before its tables moved into a schema of their own.
UNMARKED_LAYOUT = """
CREATE TABLE jobs (
    id VARCHAR PRIMARY KEY, queue VARCHAR NOT NULL, status VARCHAR NOT NULL, priority INTEGER NOT NULL,
    seq BIGINT NOT NULL, codec VARCHAR NOT NULL, func BLOB NOT NULL, args BLOB NOT NULL, kwargs BLOB NOT NULL,
    created_at DOUBLE NOT NULL, execute_after DOUBLE NOT NULL, attempts INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL, timeout_seconds DOUBLE, claimed_by VARCHAR, claimed_at DOUBLE,
    lease_expires_at DOUBLE, completed_at DOUBLE, result BLOB, error VARCHAR, traceback VARCHAR,
    node_name VARCHAR, dag_run_id VARCHAR, dependency_mode VARCHAR NOT NULL);
CREATE TABLE job_dependencies (child_id VARCHAR NOT NULL, parent_id VARCHAR NOT NULL, position INTEGER NOT NULL);
CREATE TABLE dag_runs (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, created_at DOUBLE NOT NULL);
CREATE TABLE owner (pid INTEGER NOT NULL, opened_at DOUBLE NOT NULL);
"""


def fingerprint(directory: Path) -> dict[str, tuple[str, int]]:
    """Every file in the directory: content hash and modification time."""
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(directory.iterdir())}


def another_application(path: Path, crashed: bool = False) -> None:
    """A DuckDB file of someone else's, with tables named jobs and owner. crashed=True: its process
    was killed, leaving a write-ahead log that opening the file for writing would replay into it."""
    script = f"""
import os, signal, duckdb
conn = duckdb.connect({str(path)!r})
conn.execute("CREATE TABLE jobs (name VARCHAR, cron VARCHAR)")
conn.execute("CREATE TABLE owner (team VARCHAR)")
conn.execute("INSERT INTO jobs VALUES ('backup', '0 3 * * *')")
conn.execute("INSERT INTO owner VALUES ('data platform')")
conn.execute("CHECKPOINT")
conn.execute("INSERT INTO owner VALUES ('finance')")
if {crashed}:
    os.kill(os.getpid(), signal.SIGKILL)
conn.close()
"""
    subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert path.exists() and Path(str(path) + ".wal").exists() == crashed


@pytest.mark.parametrize("crashed", [False, True], ids=["closed", "with-its-wal"])
def test_another_applications_database_is_refused_untouched(tmp_path, crashed):
    path = tmp_path / "app.duckdb"
    another_application(path, crashed)
    before = fingerprint(tmp_path)
    time.sleep(0.01)  # a write would show in the modification times
    with pytest.raises(NotAQueueDatabaseError, match="not a queuack database") as caught:
        DuckQueue(str(path))
    assert "tables jobs, owner" in str(caught.value) and "Nothing was changed" in str(caught.value)
    for command in (["stats"], ["dead-letters"], ["worker", "--burst"], ["retry", "some-id"]):
        result = CliRunner().invoke(cli, [command[0], str(path), *command[1:]])
        assert result.exit_code == 2, result.output
        assert "not a queuack database" in result.output and "Usage:" not in result.output
    assert fingerprint(tmp_path) == before
    with duckdb.connect(str(path), read_only=True) as conn:
        assert conn.execute("SELECT team FROM owner ORDER BY team").fetchall() == [("data platform",), ("finance",)]


def test_tables_named_like_ours_with_other_columns_are_not_ours(tmp_path):
    path = tmp_path / "look-alike.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute(UNMARKED_LAYOUT.replace("position INTEGER NOT NULL", "rank INTEGER NOT NULL"))
    before = fingerprint(tmp_path)
    with pytest.raises(NotAQueueDatabaseError):
        DuckQueue(str(path))
    assert fingerprint(tmp_path) == before


def unmarked_queue(path: Path, crashed_owner: bool = False) -> list[str]:
    """A queue file in the layout of the previous release, holding two pending jobs."""
    func = encode_function(jobfuncs.echo, "pickle")
    ids = []
    with duckdb.connect(str(path)) as conn:
        conn.execute(UNMARKED_LAYOUT)
        for n in range(2):
            ids.append(str(uuid.uuid4()))
            args, kwargs = encode_args((n,), None, "pickle", jobfuncs.echo)
            conn.execute(
                """INSERT INTO jobs (id, queue, status, priority, seq, codec, func, args, kwargs, created_at,
                       execute_after, attempts, max_attempts, dependency_mode)
                   VALUES (?, 'default', 'pending', 50, ?, 'pickle', ?, ?, ?, 0, 0, 0, 3, 'all')""",
                [ids[-1], n + 1, func, args, kwargs])
        conn.execute("INSERT INTO job_dependencies VALUES (?, ?, 0)", [ids[1], ids[0]])
        if crashed_owner:
            conn.execute("INSERT INTO owner VALUES (12345, 0)")
    return ids


def test_a_queue_of_the_previous_layout_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.duckdb"
    ids = unmarked_queue(path)
    with DuckQueue(str(path)) as q:
        assert q.stats()["pending"] == 2
        assert Worker(q).run(burst=True) == 2
        assert [q.get_result(i) for i in ids] == [0, 1]
        assert q._live_store().parents([ids[1]]) == {ids[1]: [(ids[0], None)]}
    with duckdb.connect(str(path), read_only=True) as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables "
                              "ORDER BY ALL").fetchall()
        version = conn.execute("SELECT value FROM queuack.meta WHERE key = 'schema_version'").fetchone()
    assert tables == [("queuack", t) for t in ("dag_runs", "job_dependencies", "jobs", "meta", "owner")]
    assert version == (str(SCHEMA_VERSION),)


def test_the_read_only_commands_read_the_previous_layout_without_upgrading_it(tmp_path):
    path = tmp_path / "old.duckdb"
    unmarked_queue(path)
    before = fingerprint(tmp_path)
    result = CliRunner().invoke(cli, ["stats", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert '"pending": 2' in result.output
    assert fingerprint(tmp_path) == before


def test_a_newer_layout_is_refused_untouched(tmp_path):
    path = tmp_path / "future.duckdb"
    DuckQueue(str(path)).close()
    with duckdb.connect(str(path)) as conn:
        conn.execute("UPDATE queuack.meta SET value = '99' WHERE key = 'schema_version'")
    before = fingerprint(tmp_path)
    with pytest.raises(QueuackError, match="schema version 99, written by a newer queuack"):
        DuckQueue(str(path))
    result = CliRunner().invoke(cli, ["stats", str(path)])
    assert result.exit_code == 2 and "pip install -U queuack" in result.output
    assert fingerprint(tmp_path) == before


def test_an_empty_duckdb_file_becomes_a_queue(tmp_path):
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    result = CliRunner().invoke(cli, ["stats", str(path)])  # only looks: there is no queue yet
    assert result.exit_code == 2 and "empty DuckDB database" in result.output
    with DuckQueue(str(path)) as q:
        job = q.enqueue(jobfuncs.echo, args=(5,))
        Worker(q).run(burst=True)
        assert q.get_result(job) == 5


def test_stats_and_dead_letters_never_write_even_after_a_crash(tmp_path):
    """The file of a worker that was killed (claims in flight, the crash mark, journalled jobs):
    looking at it changes nothing, so the next worker still sees what happened."""
    db = str(tmp_path / "queue.duckdb")
    with DuckQueue(db) as q:
        q.enqueue_batch([(jobfuncs.nap, (30, n), None) for n in range(2)])
        failing = q.enqueue(jobfuncs.fail, max_attempts=1)
    script = f"""
import os, signal
from queuack import DuckQueue
from runtime import jobfuncs
q = DuckQueue({db!r})
for job in q.claim_batch(3):  # claims written to the file
    if job.id == {failing!r}:
        q.ack(job.id, error="it broke")
q.enqueue(jobfuncs.echo, args=(1,))  # only in the journal
os.kill(os.getpid(), signal.SIGKILL)
"""
    process = python_process(script, stderr=subprocess.PIPE, text=True)
    _, err = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, err
    before = fingerprint(tmp_path)
    assert set(before) == {"queue.duckdb", "queue.duckdb.wal", "queue.duckdb.queuack-journal"}
    stats = CliRunner().invoke(cli, ["stats", db, "--json"])
    assert stats.exit_code == 0, stats.output
    assert '"claimed": 2' in stats.output and '"pending": 1' in stats.output  # the journalled job too
    letters = CliRunner().invoke(cli, ["dead-letters", db])
    assert letters.exit_code == 0 and "it broke" in letters.output
    assert fingerprint(tmp_path) == before
