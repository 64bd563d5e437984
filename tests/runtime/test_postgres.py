"""What only a shared server makes possible: many worker processes on one queue, workers that die,
a server that restarts, the command line on a live queue, and the server's own errors.

The behaviours every backend shares run against PostgreSQL through the `queue` fixture."""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import sys
import time

import pytest

# in CI a missing driver fails (no PostgreSQL test may skip there); elsewhere these tests skip
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    import psycopg
else:
    psycopg = pytest.importorskip("psycopg", reason='the PostgreSQL driver is missing: pip install -e ".[test]"')

from queuack import DAG, DuckQueue, JobStatus, Worker
from queuack import postgres
from queuack.backend import JobFilter, listing_query
from queuack.errors import BackendUnavailableError, QueuackError

from . import jobfuncs
from .conftest import TESTS_DIR, python_process, subprocess_env


def worker_process(url: str, *options: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "queuack", "worker", url, "--path", str(TESTS_DIR), *options],
                            env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(condition, timeout: float = 120.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:g}s")
        time.sleep(0.05)


def stop(*workers: subprocess.Popen) -> list[str]:
    outputs = []
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    for w in workers:
        out, err = w.communicate(timeout=60)
        outputs.append(err)
    return outputs


def log_counts(path) -> collections.Counter:
    return collections.Counter(int(line) for line in path.read_text().split()) if path.exists() else collections.Counter()


# -- connecting ------------------------------------------------------------------------------------
def test_an_unreachable_server_fails_at_once_naming_where_without_the_password():
    with pytest.raises(BackendUnavailableError) as caught:
        DuckQueue("postgresql://alice:s3cret-pw@127.0.0.1:1/jobs")
    message = str(caught.value)
    assert "127.0.0.1:1/jobs" in message and "alice" in message
    assert "s3cret-pw" not in message and "s3cret-pw" not in repr(caught.value)


def test_the_queue_shows_its_url_without_the_password(pg_queue_url):
    url = pg_queue_url.replace("postgres@", "postgres:hunter2@")
    with DuckQueue(url) as q:
        assert "hunter2" not in repr(q) and "hunter2" not in q._live_store().path
        assert q._live_store().path.endswith("/shared")


def test_postgres_scheme_and_libpq_environment_select_the_server(pg_server, pg_queue_url, monkeypatch):
    monkeypatch.setenv("PGHOST", "127.0.0.1")
    monkeypatch.setenv("PGPORT", str(pg_server.port))
    monkeypatch.setenv("PGUSER", "postgres")
    monkeypatch.setenv("PGDATABASE", "shared")
    with DuckQueue("postgres://") as q:
        job = q.enqueue(jobfuncs.add, args=(1, 2))
    with DuckQueue(pg_queue_url) as q:
        assert q.get_job(job).status is JobStatus.PENDING


# -- the schema ---------------------------------------------------------------------------------------
def test_a_schema_newer_than_the_code_is_refused(pg_url):
    DuckQueue(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE queuack.meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(QueuackError, match="schema version 99, written by a newer queuack"):
        DuckQueue(pg_url)


def test_a_version_1_queue_is_upgraded_with_the_index_of_the_dashboards_job_pages(pg_url):
    with DuckQueue(pg_url) as q:
        job = q.enqueue(jobfuncs.add, args=(1, 2))
    with psycopg.connect(pg_url, autocommit=True) as conn:  # the layout of version 1
        conn.execute("DROP INDEX queuack.jobs_newest")
        conn.execute("UPDATE queuack.meta SET value = '1' WHERE key = 'schema_version'")
    with DuckQueue(pg_url) as q:
        assert q.get_job(job).status is JobStatus.PENDING
        sql, params = listing_query("queuack.jobs", JobFilter(), 1000, 50, "%({})s")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT value FROM queuack.meta WHERE key = 'schema_version'").fetchone() == (
            str(postgres.SCHEMA_VERSION),)
        conn.execute("SET enable_seqscan = off")  # a tiny table: ask whether the index can serve the page
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, params))
    assert "jobs_newest" in plan


def test_a_version_2_queue_is_upgraded_and_keeps_the_attempts_of_its_claims(pg_url):
    with DuckQueue(pg_url, visibility_timeout=0.5) as q:
        held = q.enqueue(jobfuncs.add, args=(1, 2))
        waiting = q.enqueue(jobfuncs.add, args=(3, 4))
        assert q.claim().id == held  # a claim of an older queuack: its attempt counted when taken
    with psycopg.connect(pg_url, autocommit=True) as conn:  # the layout of version 2
        conn.execute("ALTER TABLE queuack.jobs DROP COLUMN claim_token, DROP COLUMN charged, DROP COLUMN lost")
        conn.execute("UPDATE queuack.meta SET value = '2' WHERE key = 'schema_version'")
    time.sleep(0.6)  # the lease of the old claim runs out
    with DuckQueue(pg_url, retry_backoff=0) as q:
        from queuack import Worker
        Worker(q).run(burst=True)
        assert [(q.get_job(i).status, q.get_job(i).attempts) for i in (held, waiting)] == [
            (JobStatus.DONE, 2), (JobStatus.DONE, 1)]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT value FROM queuack.meta WHERE key = 'schema_version'").fetchone() == (
            str(postgres.SCHEMA_VERSION),)


def test_a_version_3_queue_is_upgraded_with_its_finished_jobs_counted(pg_url):
    from .test_counts import assert_exact

    with DuckQueue(pg_url) as q:
        q.enqueue(jobfuncs.fail, queue="a", max_attempts=1)
        q.enqueue(jobfuncs.echo, args=(1,), queue="a")
        q.enqueue(jobfuncs.echo, args=(2,), queue="b", delay_seconds=3600)
        Worker(q, queues=["a"]).run(burst=True)
    with psycopg.connect(pg_url, autocommit=True) as conn:  # the layout of version 3
        conn.execute("DROP TABLE queuack.tallies")
        conn.execute("DROP INDEX queuack.jobs_waiting")
        conn.execute("UPDATE queuack.meta SET value = '3' WHERE key = 'schema_version'")
    with DuckQueue(pg_url) as q:
        kept = assert_exact(q)
        assert (kept["a"]["done"], kept["a"]["failed"], kept["b"]["delayed"]) == (1, 1, 1)
        view = q._live_store().overview()
        assert (view.done_recently, view.failed_recently) == (1, 1)  # finished just now: in the window
        assert q._live_store().claim_latency(300)[0] == 2


def test_the_counts_read_no_finished_job(pg_queue_url):
    with DuckQueue(pg_queue_url) as q:
        q.enqueue(jobfuncs.echo, args=(1,))
    with psycopg.connect(pg_queue_url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")  # a tiny table: ask whether the partial indexes serve it
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + postgres.UNFINISHED, {"now": time.time()}))
    used = set(re.findall(r"(?:using|Index Scan on) (jobs_\w+)", plan))
    assert "Seq Scan on jobs" not in plan, plan
    assert {"jobs_waiting", "jobs_leases"} <= used <= {"jobs_ready", "jobs_ready_any_queue", "jobs_waiting", "jobs_leases"}, plan


def test_processes_creating_the_schema_at_once_do_not_race(pg_url):
    script = f"""
import sys
from queuack import DuckQueue
sys.stdin.readline()  # start together
with DuckQueue({pg_url!r}) as q:
    q.enqueue(print, args=("x",))
"""
    processes = [python_process(script, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for p in processes:
        p.stdin.write("go\n")
        p.stdin.flush()
    errors = [p.communicate(timeout=120)[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, errors
    with DuckQueue(pg_url) as q:
        assert q.stats()["pending"] == 4
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT value FROM queuack.meta").fetchall() == [(str(postgres.SCHEMA_VERSION),)]


# -- many processes ------------------------------------------------------------------------------------
def test_three_workers_drain_what_a_fourth_process_enqueues_each_job_once(pg_queue_url, tmp_path):
    log = tmp_path / "runs.log"
    total = 2000
    workers = [worker_process(pg_queue_url, "--concurrency", "2") for _ in range(3)]
    enqueuer = python_process(f"""
from queuack import DuckQueue
from runtime import jobfuncs
with DuckQueue({pg_queue_url!r}) as q:
    for start in range(0, {total}, 100):
        q.enqueue_batch([(jobfuncs.append_to_log, ({str(log)!r}, n), None) for n in range(start, start + 50)])
        for n in range(start + 50, start + 100):
            q.enqueue(jobfuncs.append_to_log, args=({str(log)!r}, n))
""")
    assert enqueuer.wait(timeout=120) == 0
    with DuckQueue(pg_queue_url) as q:
        wait_until(lambda: q.stats()["done"] == total, what=f"{total} jobs done")
        errors = stop(*workers)
        assert q.stats() == {"pending": 0, "claimed": 0, "done": total, "failed": 0, "delayed": 0, "skipped": 0}
    assert [w.returncode for w in workers] == [0, 0, 0], errors
    counts = log_counts(log)
    assert sorted(counts) == list(range(total)) and set(counts.values()) == {1}


def test_a_killed_worker_s_jobs_finish_elsewhere_after_the_lease(pg_queue_url, tmp_path):
    log = tmp_path / "runs.log"
    with DuckQueue(pg_queue_url) as q:
        ids = q.enqueue_batch([(jobfuncs.append_to_log, (str(log), n, 0.05), None) for n in range(60)])
        victim = worker_process(pg_queue_url, "--visibility-timeout", "2", "--concurrency", "4")
        wait_until(lambda: sum(log_counts(log).values()) >= 8, what="the first worker to start jobs")
        victim.kill()
        victim.communicate(timeout=30)
        survivor = worker_process(pg_queue_url, "--visibility-timeout", "2")
        wait_until(lambda: q.stats()["done"] == len(ids), what="every job done")
        stop(survivor)
        jobs = [q.get_job(i) for i in ids]
    assert all(j.status is JobStatus.DONE for j in jobs)
    counts = log_counts(log)
    assert sorted(counts) == list(range(60))  # nothing lost
    # charged only for the jobs it was running (4 at once), not for those it held besides
    assert sum(j.attempts - 1 for j in jobs) <= 4


# -- which attempts count when a worker dies ------------------------------------------------------------
def starts(log) -> list[tuple[str, int]]:
    """(name, pid) of each start of a jobfuncs.hold job, in order."""
    return [(name, int(pid)) for name, pid in (line.split() for line in log.read_text().splitlines())] \
        if log.exists() else []


def start_marked(url: str, job_id: str) -> bool:
    """Whether the worker running the job has recorded its start (a death from now on counts)."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT charged FROM queuack.jobs WHERE id = %s", [job_id]).fetchone()[0]


def test_a_killed_worker_is_charged_only_for_the_job_it_was_running(pg_queue_url, tmp_path):
    log, gates = tmp_path / "starts.log", tmp_path / "gates"
    gates.mkdir()
    with DuckQueue(pg_queue_url) as q:
        running = q.enqueue(jobfuncs.hold, args=(str(gates), str(log), "running"))
        others = q.enqueue_batch([(jobfuncs.hold, (str(gates), str(log), f"job{n}"), None) for n in range(10)])
        for n in range(10):
            (gates / f"job{n}").touch()
        victim = worker_process(pg_queue_url, "--visibility-timeout", "1")  # claims 8: 7 prefetched
        wait_until(lambda: starts(log) == [("running", victim.pid)] and start_marked(pg_queue_url, running),
                   what="the first job to start")
        victim.kill()
        victim.communicate(timeout=30)
        (gates / "running").touch()
        survivor = worker_process(pg_queue_url, "--visibility-timeout", "1")
        wait_until(lambda: q.stats()["done"] == 11, what="every job done")
        stop(survivor)
        assert q.get_job(running).attempts == 2  # it ran twice, and its first worker died under it
        assert [q.get_job(i).attempts for i in others] == [1] * 10  # the prefetched ones were not charged
    assert collections.Counter(name for name, _ in starts(log)) == {"running": 2, **{f"job{n}": 1 for n in range(10)}}


def test_a_poison_job_ends_in_the_dead_letters_and_the_jobs_behind_it_run(pg_queue_url, tmp_path):
    log = tmp_path / "runs.log"
    with DuckQueue(pg_queue_url) as q:
        normal = [q.enqueue(jobfuncs.append_to_log, args=(str(log), n), max_attempts=2) for n in range(4)]
        poison = q.enqueue(jobfuncs.hard_exit, args=(1,), max_attempts=2)
        normal += [q.enqueue(jobfuncs.append_to_log, args=(str(log), n), max_attempts=2) for n in range(4, 20)]
        workers = [worker_process(pg_queue_url, "--visibility-timeout", "1")]

        def settled():  # a supervisor: a worker that dies is replaced
            if workers[-1].poll() is not None:
                workers.append(worker_process(pg_queue_url, "--visibility-timeout", "1"))
            return q.stats()["done"] == 20 and q.stats()["failed"] == 1

        wait_until(settled, what="the poison job in the dead letters and the others done")
        stop(workers[-1])
        dead = q.get_job(poison)
        assert dead.status is JobStatus.FAILED and dead.attempts == 2
        assert "the worker running it died 3 times" in dead.error
        assert [w.returncode for w in workers[:-1]] == [1, 1, 1]  # its first death was not counted
        assert [j.id for j in q.list_dead_letters()] == [poison]
        jobs = [q.get_job(i) for i in normal]
    assert all(j.status is JobStatus.DONE for j in jobs)
    runs = log_counts(log)
    assert sorted(runs) == list(range(20))
    # a job that ran once was charged once, though it was prefetched behind the poison job each time
    assert all(j.attempts == 1 for j in jobs if runs[j.result] == 1)


def test_a_worker_whose_lease_was_taken_over_cannot_overwrite_the_new_holder(pg_queue_url, tmp_path):
    log, gates = tmp_path / "starts.log", tmp_path / "gates"
    gates.mkdir()
    with DuckQueue(pg_queue_url) as q:
        first = q.enqueue(jobfuncs.hold, args=(str(gates), str(log), "first"))
        second = q.enqueue(jobfuncs.hold, args=(str(gates), str(log), "second"))
        stalled = worker_process(pg_queue_url, "--visibility-timeout", "1")  # runs first, holds second
        wait_until(lambda: starts(log) == [("first", stalled.pid)], what="the first job to start")
        stalled.send_signal(signal.SIGSTOP)  # frozen past its lease
        taker = worker_process(pg_queue_url, "--visibility-timeout", "1", "--concurrency", "2")
        wait_until(lambda: {n for n, pid in starts(log) if pid == taker.pid} == {"first", "second"},
                   what="the other worker to take both jobs over")
        (gates / "first").touch()
        stalled.send_signal(signal.SIGCONT)
        stalled.send_signal(signal.SIGTERM)  # it finishes first and gives second back: both too late
        stalled.communicate(timeout=60)
        assert stalled.returncode == 0
        job = q.get_job(second)
        assert job.status is JobStatus.CLAIMED and f":{taker.pid}:" in job.claimed_by  # still the taker's
        (gates / "second").touch()
        wait_until(lambda: q.stats()["done"] == 2, what="both jobs done")
        stop(taker)
        assert q.get_result(first) == q.get_result(second) == taker.pid
        assert q.get_job(second).attempts == 1  # the stalled worker never started it


def test_a_dag_submitted_here_runs_on_two_other_processes(pg_queue_url):
    workers = [worker_process(pg_queue_url, "--concurrency", "2") for _ in range(2)]
    with DuckQueue(pg_queue_url) as q:
        with DAG("spread", queue=q) as dag:
            dag.add_job(jobfuncs.numbers, name="numbers", args=(100,))
            for part in range(4):
                dag.add_job(jobfuncs.square_part, name=f"part{part}", args=(part,), depends_on="numbers")
            dag.add_job(jobfuncs.total, name="total", depends_on=[f"part{p}" for p in range(4)])
        assert dag.wait_for_completion(timeout=120)
        assert dag.get_result("total") == sum(v * v for v in range(100))
        hosts = {q.get_job(job_id).claimed_by for job_id in dag.jobs.values()}
    stop(*workers)
    assert all(h for h in hosts)


def test_a_server_restart_mid_run_loses_nothing(pg_server, pg_queue_url, tmp_path):
    log = tmp_path / "runs.log"
    with DuckQueue(pg_queue_url) as q:
        ids = q.enqueue_batch([(jobfuncs.append_to_log, (str(log), n, 0.02), None) for n in range(150)])
    worker = worker_process(pg_queue_url, "--concurrency", "2")
    wait_until(lambda: sum(log_counts(log).values()) >= 20, what="the worker to start")
    pg_server.restart()
    with DuckQueue(pg_queue_url) as q:
        wait_until(lambda: q.stats()["done"] == len(ids), what="every job done after the restart")
        assert worker.poll() is None  # the worker lived through it
        stderr = stop(worker)[0]
    assert "connection was lost" in stderr and "retrying" in stderr
    assert sorted(log_counts(log)) == list(range(150))
    assert worker.returncode == 0


def test_stats_dead_letters_and_retry_from_other_processes_on_a_live_queue(pg_queue_url, tmp_path):
    log = tmp_path / "runs.log"
    with DuckQueue(pg_queue_url, retry_backoff=0) as q:
        q.enqueue_batch([(jobfuncs.append_to_log, (str(log), n, 0.05), None) for n in range(40)])
        bad = q.enqueue(jobfuncs.fail, args=("broken",), max_attempts=1)
        worker = worker_process(pg_queue_url)
        try:
            wait_until(lambda: sum(log_counts(log).values()) >= 3, what="the worker to start")
            live = subprocess.run([sys.executable, "-m", "queuack", "stats", pg_queue_url, "--json"],
                                  env=subprocess_env(), capture_output=True, text=True, timeout=60)
            assert live.returncode == 0, live.stderr
            assert '"done"' in live.stdout
            wait_until(lambda: q.get_job(bad).status is JobStatus.FAILED, what="the dead letter")
            letters = subprocess.run([sys.executable, "-m", "queuack", "dead-letters", pg_queue_url],
                                     env=subprocess_env(), capture_output=True, text=True, timeout=60)
            assert bad in letters.stdout and "broken" in letters.stdout
            again = subprocess.run([sys.executable, "-m", "queuack", "retry", pg_queue_url, bad],
                                   env=subprocess_env(), capture_output=True, text=True, timeout=60)
            assert again.returncode == 0 and "pending again" in again.stdout
            wait_until(lambda: q.get_job(bad).attempts == 1 and q.get_job(bad).status is JobStatus.FAILED
                       and q.stats()["done"] == 40, what="the retried job to fail again and the rest to finish")
        finally:
            stop(worker)


def test_the_cli_names_an_unreachable_server():
    result = subprocess.run([sys.executable, "-m", "queuack", "stats", "postgresql://bob:pw-secret@127.0.0.1:1/q"],
                            env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "127.0.0.1:1/q" in result.stderr and "pw-secret" not in result.stderr


def test_commands_on_a_queue_create_nothing_on_a_database_without_one(pg_url):
    commands = [["stats"], ["dead-letters"], ["retry", "--all"], ["ui", "--port", "0"], ["ui", "--read-only"]]
    for command in commands:
        result = subprocess.run([sys.executable, "-m", "queuack", command[0], pg_url, *command[1:]],
                                env=subprocess_env(), capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, result
        assert "holds no queue: there is no queuack schema" in result.stderr, command
        assert "`queuack worker URL`" in result.stderr and "Nothing was changed" in result.stderr
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regnamespace('queuack')").fetchone()[0] is None
    worker = subprocess.run([sys.executable, "-m", "queuack", "worker", pg_url, "--burst"], env=subprocess_env(),
                            capture_output=True, text=True, timeout=60)
    assert worker.returncode == 0, worker.stderr  # a worker creates the queue, as the message says
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regnamespace('queuack')").fetchone()[0] is not None


def test_a_batch_whose_commit_was_acknowledged_too_late_is_stored_once(pg_queue_url):
    """The connection drops after the batch committed: the retry finds it and stores nothing twice."""
    with DuckQueue(pg_queue_url) as q:
        backend = q._live_store()
        run, lost = backend._run, []

        def losing_the_acknowledgement(work):
            def once(conn):
                result = work(conn)
                if not lost:
                    lost.append(conn)
                    conn.close()
                    raise psycopg.OperationalError("the connection was lost after the commit")
                return result
            return run(once)

        backend._run = losing_the_acknowledgement
        try:
            q.enqueue_batch([(jobfuncs.add, (n, 1)) for n in range(50)])
        finally:
            backend._run = run
        assert lost and q.stats()["pending"] == 50


# -- queuack copy ------------------------------------------------------------------------------------
def copy_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "queuack", "copy", *args], env=subprocess_env(),
                          capture_output=True, text=True, timeout=120)


def test_copy_moves_a_half_done_dag_a_dead_letter_and_a_delayed_job_to_postgres_and_back(pg_url, tmp_path):
    source = str(tmp_path / "jobs.duckdb")
    with DuckQueue(source, retry_backoff=0) as q:
        with DAG("spread", queue=q) as dag:
            dag.add_job(jobfuncs.numbers, name="numbers", args=(100,))
            for part in range(4):
                dag.add_job(jobfuncs.square_part, name=f"part{part}", args=(part,), depends_on="numbers")
            dag.add_job(jobfuncs.total, name="total", depends_on=[f"part{p}" for p in range(4)])
        dead = q.enqueue(jobfuncs.fail, args=("kept",), max_attempts=1, queue="other")
        later = q.enqueue(jobfuncs.add, args=(2, 3), delay_seconds=3600, queue="other")
        for _ in range(3):  # numbers and two of its parts done
            job = q.claim(queue="default")
            q.ack(job, result=job.execute())
        q.ack(q.claim(queue="other"), error="kept")  # the dead letter
        before = q.stats()
        jobs = dag.jobs
    assert before["done"] == 3 and before["failed"] == 1 and before["delayed"] == 1

    result = copy_command(source, pg_url)
    assert result.returncode == 0, result.stderr
    assert "copied 8 jobs, 8 dependency edges and 1 DAG run" in result.stdout
    with DuckQueue(pg_url) as pq:
        assert pq.stats() == before
        assert pq.list_dead_letters()[0].id == dead
        assert pq.get_result(jobs["numbers"]) == list(range(100))
        from queuack import Worker
        Worker(pq).run(burst=True)  # the rest of the DAG runs on PostgreSQL, reading results copied over
        assert pq.get_result(jobs["total"]) == sum(v * v for v in range(100))
        assert pq.get_job(later).status is JobStatus.DELAYED
        after = pq.stats()

    refused = copy_command(source, pg_url)
    assert refused.returncode == 2 and "already holds 8 jobs" in refused.stderr and "--append" in refused.stderr

    back = str(tmp_path / "back.duckdb")
    result = copy_command(pg_url, back)
    assert result.returncode == 0, result.stderr
    with DuckQueue(back) as q:
        assert q.stats() == after
        assert q.get_result(jobs["total"]) == sum(v * v for v in range(100))
        assert [n for _, n, _ in q._live_store().dag_nodes(q.get_job(jobs["total"]).dag_run_id)] == [
            "numbers", "part0", "part1", "part2", "part3", "total"]


def test_a_worker_outlasts_an_outage_longer_than_the_connection_retries(pg_server, pg_queue_url, tmp_path):
    import threading

    from queuack import Worker

    log = tmp_path / "runs.log"
    with DuckQueue(pg_queue_url) as q:
        ids = q.enqueue_batch([(jobfuncs.append_to_log, (str(log), n, 0.02), None) for n in range(60)])
        q._live_store().reconnect_timeout = 0.3  # the backend gives up quickly: the Worker must not
        worker = Worker(q)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        wait_until(lambda: sum(log_counts(log).values()) >= 5, what="the worker to start")
        pg_server._run("pg_ctl", "-D", pg_server.data, "-m", "immediate", "-w", "stop")
        pg_server.started = False
        time.sleep(1.5)  # several times the backend's patience
        pg_server.start()
        wait_until(lambda: q.stats()["done"] == len(ids), what="every job done after the outage")
        assert thread.is_alive()
        worker.stop()
        thread.join(30)
    assert sorted(log_counts(log)) == list(range(60))


def test_retry_all_skips_a_job_another_process_retried_meanwhile(pg_queue_url):
    """`queuack retry --all` read the dead letters; while it waits on the first (a row lock held
    here), this process retries the second: that one is skipped and reported, the rest retried."""
    with DuckQueue(pg_queue_url) as q:
        for n in range(3):
            q.enqueue(jobfuncs.fail, args=(f"broke {n}",), max_attempts=1)
        Worker(q).run(burst=True)
        first, second, third = [j.id for j in q.list_dead_letters()]  # the order retry --all takes them in
        with psycopg.connect(pg_queue_url) as holding:
            holding.execute("SELECT 1 FROM queuack.jobs WHERE id = %s FOR UPDATE", [first])
            retry = subprocess.Popen([sys.executable, "-m", "queuack", "retry", pg_queue_url, "--all"],
                                     env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            with psycopg.connect(pg_queue_url, autocommit=True) as watching:
                wait_until(lambda: watching.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'queuack' AND wait_event_type = 'Lock'"
                ).fetchone()[0] == 1, what="retry --all to wait on the first dead letter")
            q.retry_dead_letter(second)
        out, err = retry.communicate(timeout=60)
        assert retry.returncode == 0, err
        assert out == ("retried 2 dead letters; 1 job skipped: no longer a dead letter (retried or purged by "
                       "another process meanwhile)\n")
        assert "Traceback" not in err
        assert [q.get_job(i).status for i in (first, second, third)] == [JobStatus.PENDING] * 3
