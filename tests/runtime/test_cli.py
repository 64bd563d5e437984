"""The `queuack` command: worker, stats, dead-letters, retry, and its errors for bad files and ids."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest
from click.testing import CliRunner

from queuack import DAG, DuckQueue, JobStatus, Worker
from queuack import __version__ as queuack_version
from queuack.cli import cli

from . import jobfuncs
from .conftest import TESTS_DIR, python_process, subprocess_env

STATUSES = ["pending", "claimed", "done", "failed", "delayed", "skipped"]


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def queuack(*args: str, cwd=None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "queuack", *args], cwd=cwd, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60, **kwargs)


@pytest.fixture
def filled(db_path):
    """A queue file with work in two queues, a delayed job and two dead letters."""
    with DuckQueue(db_path, retry_backoff=0) as q:
        ids = {
            "a1": q.enqueue(jobfuncs.add, args=(1, 2), queue="a"),
            "a2": q.enqueue(jobfuncs.add, args=(3, 4), queue="a"),
            "b1": q.enqueue(jobfuncs.echo, args=("b",), queue="b"),
            "later": q.enqueue(jobfuncs.echo, args=("later",), queue="a", delay_seconds=3600),
            "dead1": q.enqueue(jobfuncs.fail, args=("first line\nsecond line",), queue="dead", max_attempts=1),
            "dead2": q.enqueue(jobfuncs.fail, args=("another",), queue="dead", max_attempts=2),
        }
        for _ in range(3):
            job = q.claim(queue="dead")
            if job is None:
                break
            try:
                job.execute()
            except ValueError as exc:
                q.ack(job, error=f"ValueError: {exc}")
    return db_path, ids


# -- stats ------------------------------------------------------------------------------------------
def test_stats_table_and_json(filled):
    db, _ = filled
    result = invoke("stats", db)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["queue"] + STATUSES
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert rows["a"] == ["2", "0", "0", "0", "1", "0"]
    assert rows["b"] == ["1", "0", "0", "0", "0", "0"]
    assert rows["dead"] == ["0", "0", "0", "2", "0", "0"]
    assert rows["(all)"] == ["3", "0", "0", "2", "1", "0"]

    result = invoke("stats", db, "--json")
    assert result.exit_code == 0
    counts = json.loads(result.output)
    assert counts.pop("queues") == {name: dict(zip(STATUSES, map(int, row))) for name, row in rows.items()
                                    if name != "(all)"}  # the same breakdown as the table
    assert counts == {"pending": 3, "claimed": 0, "done": 0, "failed": 2, "delayed": 1, "skipped": 0}
    only_b = json.loads(invoke("stats", db, "--queue", "b", "--json").output)
    assert only_b["pending"] == 1 and list(only_b["queues"]) == ["b"]
    only_a = invoke("stats", db, "--queue", "a").output.splitlines()
    assert [line.split()[0] for line in only_a[2:]] == ["a"]


def test_stats_of_a_queue_that_does_not_exist(filled):
    db, _ = filled
    result = CliRunner().invoke(cli, ["stats", db, "-Q", "nosuchqueue"])
    assert result.exit_code == 2
    assert result.output == f"Error: {db} has no queue named 'nosuchqueue': its queues are 'a', 'b', 'dead'.\n"


def test_stats_of_an_empty_queue(db_path):
    DuckQueue(db_path).close()
    result = invoke("stats", db_path, "--json")
    assert result.exit_code == 0 and json.loads(result.output) == {**dict.fromkeys(STATUSES, 0), "queues": {}}
    result = CliRunner().invoke(cli, ["stats", db_path, "-Q", "default"])
    assert result.exit_code == 2 and "it holds no jobs yet" in result.output


# -- worker -----------------------------------------------------------------------------------------
def test_worker_burst_runs_the_jobs_and_prints_a_summary(filled):
    db, ids = filled
    result = invoke("worker", db, "--burst", "--queue", "a")
    assert result.exit_code == 0, result.output
    assert "processed 2 jobs" in result.output
    with DuckQueue(db) as q:
        assert q.get_result(ids["a1"]) == 3 and q.get_result(ids["a2"]) == 7
        assert q.get_job(ids["b1"]).status == JobStatus.PENDING  # another queue
        assert q.get_job(ids["later"]).status == JobStatus.DELAYED
    result = invoke("worker", db, "--burst", "--concurrency", "2", "-Q", "b", "-Q", "dead")
    assert result.exit_code == 0 and "processed 1 job " in result.output


def test_worker_says_where_its_jobs_run(db_path, caplog):
    DuckQueue(db_path).close()
    for options, where in ((["--concurrency", "2"], "concurrency 2, on threads"),
                           (["--pool", "process"], "concurrency 1, in child processes")):
        caplog.clear()
        with caplog.at_level("INFO", logger="queuack.cli"):
            assert invoke("worker", db_path, "--burst", *options).exit_code == 0
        assert where in caplog.text


def test_worker_option_errors(db_path):
    DuckQueue(db_path).close()
    result = CliRunner().invoke(cli, ["worker", db_path, "--concurrency", "0"])
    assert result.exit_code == 2 and "concurrency" in result.output


def test_worker_imports_job_functions_from_the_current_directory_and_path(tmp_path, monkeypatch):
    project = tmp_path / "project"
    lib = tmp_path / "lib"
    project.mkdir()
    lib.mkdir()
    (project / "app_tasks.py").write_text("def shout(word):\n    return word.upper() + '!'\n")
    (lib / "lib_tasks.py").write_text("def double(n):\n    return 2 * n\n")
    monkeypatch.syspath_prepend(str(project))
    monkeypatch.syspath_prepend(str(lib))
    import app_tasks
    import lib_tasks

    db = str(tmp_path / "queue.duckdb")
    with DuckQueue(db) as q:
        shout = q.enqueue(app_tasks.shout, args=("hi",))
        double = q.enqueue(lib_tasks.double, args=(21,))
    # from the project directory, with the library added by --path
    result = queuack("worker", db, "--burst", "--path", str(lib), cwd=project)
    assert result.returncode == 0, result.stderr
    assert "processed 2 jobs" in result.stdout
    with DuckQueue(db) as q:
        assert q.get_result(shout) == "HI!"
        assert q.get_result(double) == 42
        missing = q.enqueue(app_tasks.shout, args=("x",), max_attempts=1)
    # from elsewhere, the module cannot be imported: the worker's fault, not the job's; it stops,
    # says so, and the job stays pending with its attempt not counted
    result = queuack("worker", db, "--burst", cwd=lib)
    assert result.returncode == 1
    assert "cannot import the job function app_tasks.shout" in result.stderr
    assert "No module named 'app_tasks'" in result.stderr and "--path DIR" in result.stderr
    with DuckQueue(db) as q:
        record = q.get_job(missing)
        assert (record.status, record.attempts) == (JobStatus.PENDING, 0)


def test_functions_of_a_script_warn_at_enqueue_and_the_worker_says_what_to_do(tmp_path):
    db = str(tmp_path / "queue.duckdb")
    script = tmp_path / "script.py"
    script.write_text(
        "import sys\nfrom queuack import DuckQueue\n\ndef transform(x):\n    return x * 10\n\n"
        "with DuckQueue(sys.argv[1]) as q:\n    q.enqueue(transform, args=(1,))\n    q.enqueue(transform, args=(2,))\n")
    made = subprocess.run([sys.executable, str(script), db], env=subprocess_env(), capture_output=True,
                          text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert made.stderr.count("MainModuleWarning") == 1  # once per function
    assert "__main__.transform is defined in the script you ran" in made.stderr
    result = queuack("worker", db, "--burst", cwd=tmp_path)
    assert result.returncode == 1
    assert "no other process can import a script's __main__" in result.stderr
    assert "Move the function to a module" in result.stderr
    with DuckQueue(db) as q:
        assert q.stats()["pending"] == 2 and q.stats()["failed"] == 0


def test_sigterm_stops_the_worker_command_cleanly(db_path, tmp_path):
    log = tmp_path / "ran.log"
    with DuckQueue(db_path) as q:
        q.enqueue_batch([(jobfuncs.append_to_log, (str(log), n, 0.2), None) for n in range(30)])
    process = subprocess.Popen(
        [sys.executable, "-m", "queuack", "worker", db_path, "--concurrency", "2", "--path", str(TESTS_DIR)],
        cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while not (log.exists() and len(log.read_text().split()) >= 2):  # running jobs by now
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "SIGTERM received" in err
    assert "Traceback" not in err
    assert out.startswith("processed ")
    processed = int(out.split()[1])
    with DuckQueue(db_path) as q:
        stats = q.stats()
    assert stats["claimed"] == 0
    assert stats["done"] == processed and stats["pending"] == 30 - processed


# -- dead letters and retry -----------------------------------------------------------------------
def test_dead_letters_lists_failed_jobs(filled):
    db, ids = filled
    result = invoke("dead-letters", db)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["id", "name", "attempts", "error"]
    body = "\n".join(lines[2:])
    assert ids["dead1"] in body and ids["dead2"] in body
    assert "runtime.jobfuncs.fail" in body
    assert "1/1" in body and "2/2" in body
    assert "ValueError: first line" in body and "second line" not in body  # the first line only
    assert len(invoke("dead-letters", db, "--limit", "1").output.splitlines()) == 3

    listed = json.loads(invoke("dead-letters", db, "--json").output)
    assert {entry["id"] for entry in listed} == {ids["dead1"], ids["dead2"]}
    first = next(entry for entry in listed if entry["id"] == ids["dead1"])
    assert first["error"] == "ValueError: first line\nsecond line"
    assert first["function"] == "runtime.jobfuncs.fail" and first["attempts"] == 1


def test_dead_letters_show_dag_node_names(db_path):
    from queuack import DAG

    with DuckQueue(db_path) as q:
        with DAG("etl", queue=q) as dag:
            dag.add_job(jobfuncs.fail, name="extract", args=("no source",), max_attempts=1)
        dag.execute(timeout=30)
    result = invoke("dead-letters", db_path)
    assert result.exit_code == 0
    assert "extract" in result.output and "ValueError: no source" in result.output


def test_dead_letters_when_there_are_none(db_path):
    DuckQueue(db_path).close()
    result = invoke("dead-letters", db_path)
    assert result.exit_code == 0 and result.output.strip() == "no dead letters"


def test_retry_puts_a_dead_letter_back(filled):
    db, ids = filled
    result = invoke("retry", db, ids["dead1"])
    assert result.exit_code == 0
    assert ids["dead1"] in result.output and "pending" in result.output
    assert result.output.rstrip().endswith("with 1 attempt")
    with DuckQueue(db) as q:
        record = q.get_job(ids["dead1"])
        assert record.status == JobStatus.PENDING and record.attempts == 0
        assert [j.id for j in q.list_dead_letters()] == [ids["dead2"]]


def test_retry_all_and_its_filters(filled, tmp_path):
    db, ids = filled
    with DuckQueue(db) as q:
        with DAG("etl", queue=q) as dag:
            dag.add_job(jobfuncs.fail, args=("root",), name="root", max_attempts=1)
            dag.add_job(jobfuncs.echo, args=("child",), name="child", depends_on="root")
        Worker(q, queues=["default"]).run(burst=True)
        assert dag.get_job("child").status == JobStatus.SKIPPED
        run_id = dag.dag_run_id
    result = invoke("retry", db, "--all", "--dag-run", run_id)
    assert result.exit_code == 0 and "retried 1 dead letter" in result.output
    result = invoke("retry", db, "--all", "--queue", "nothing-here")
    assert result.exit_code == 0 and "no dead letters to retry" in result.output
    result = invoke("retry", db, "--all", "--queue", "dead")
    assert result.exit_code == 0 and "retried 2 dead letters" in result.output
    with DuckQueue(db) as q:
        assert q.list_dead_letters() == []
        assert q.get_job(dag.jobs["child"]).status == JobStatus.PENDING  # the run resumes
    for bad in (["retry", db], ["retry", db, ids["dead1"], "--all"], ["retry", db, ids["dead1"], "--queue", "a"]):
        result = CliRunner().invoke(cli, bad)
        assert result.exit_code == 2 and "Usage:" in result.output


def test_retry_errors(filled):
    db, ids = filled
    result = CliRunner().invoke(cli, ["retry", db, "no-such-id"])
    assert result.exit_code == 2
    assert "no job with id 'no-such-id'" in result.output
    assert "Traceback" not in result.output and "Usage:" not in result.output
    result = CliRunner().invoke(cli, ["retry", db, ids["a1"]])
    assert result.exit_code == 2
    assert "not failed" in result.output


# -- bad files ----------------------------------------------------------------------------------------
COMMANDS = [["stats"], ["dead-letters"], ["worker", "--burst"], ["retry", "_", "some-id"]]


def run_on(command: list[str], path: str):
    args = [command[0], path] + [a for a in command[1:] if a != "_"]
    return CliRunner().invoke(cli, args)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_missing_file_is_a_usage_error_and_is_not_created(tmp_path, command):
    path = str(tmp_path / "missing.duckdb")
    result = run_on(command, path)
    assert result.exit_code == 2
    assert "does not exist" in result.output and "missing.duckdb" in result.output
    assert not os.path.exists(path)
    assert "DuckQueue(path) creates one when it opens it" in result.output and "Usage:" not in result.output
    DuckQueue(path).close()  # as the message says
    assert os.listdir(tmp_path) == ["missing.duckdb"]
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_file_that_is_not_a_duckdb_database(tmp_path, command):
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    result = run_on(command, str(path))
    assert result.exit_code == 2
    assert "not a DuckDB database" in result.output
    assert path.read_text() == "hello\n"
    empty = tmp_path / "empty.duckdb"
    empty.write_bytes(b"")
    assert run_on(command, str(empty)).exit_code == 2
    assert run_on(command, str(tmp_path)).exit_code == 2  # a directory


def test_a_duckdb_file_of_another_application_is_left_alone(tmp_path):
    path = str(tmp_path / "analytics.duckdb")
    with duckdb.connect(path) as conn:
        conn.execute("CREATE TABLE events (id INTEGER)")
    result = run_on(["stats"], path)
    assert result.exit_code == 2
    assert "not a queuack database" in result.output
    with duckdb.connect(path, read_only=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()]
    assert tables == ["events"]


def test_a_file_locked_by_another_process(db_path):
    DuckQueue(db_path).close()
    holder = python_process(
        "import sys\nfrom queuack import DuckQueue\n"
        f"q = DuckQueue({db_path!r})\nprint('ready', flush=True)\nsys.stdin.readline()\n",
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        for command in (["stats"], ["worker", "--burst"]):
            result = queuack(command[0], db_path, *command[1:])
            assert result.returncode == 2
            assert "in use by another process" in result.stderr and db_path in result.stderr
            assert f"PID {holder.pid}" in result.stderr
            assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1
            assert "Usage:" not in result.stderr and "Traceback" not in result.stderr
    finally:
        holder.communicate("\n", timeout=30)


def test_a_queue_open_in_this_process_is_shared(db_path):
    with DuckQueue(db_path) as q:
        q.enqueue(jobfuncs.echo, args=(1,))
        result = invoke("stats", db_path, "--json")
        assert result.exit_code == 0 and json.loads(result.output)["pending"] == 1
        assert q.stats()["pending"] == 1  # still open and working


# -- entry points -----------------------------------------------------------------------------------
def test_console_script_and_python_m(db_path):
    DuckQueue(db_path).close()
    script = os.path.join(os.path.dirname(sys.executable), "queuack")
    if os.path.exists(script):
        result = subprocess.run([script, "stats", db_path, "--json"], capture_output=True, text=True,
                                env=subprocess_env(), timeout=60)
        assert result.returncode == 0 and json.loads(result.stdout)["pending"] == 0
    result = queuack("--help")
    assert result.returncode == 0
    for command in ("worker", "stats", "dead-letters", "retry"):
        assert command in result.stdout
    assert "--path" in queuack("worker", "--help").stdout
    version = queuack("--version")
    assert version.returncode == 0 and queuack_version in version.stdout


def test_help_text_mentions_the_import_path():
    result = invoke("worker", "--help")
    assert result.exit_code == 0
    assert "import" in result.output and "--path DIR" in result.output
