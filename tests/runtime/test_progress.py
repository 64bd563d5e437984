"""The live progress of `queuack worker` and `dag.execute(progress=True)`."""

from __future__ import annotations

import io
import subprocess
import sys

from rich.console import Console

from queuack import DAG, Worker
from queuack.progress import Rate, WorkerProgress, worker_line

from . import jobfuncs
from .conftest import subprocess_env


def test_the_rate_counts_jobs_finished_over_the_last_seconds_only():
    rate = Rate(window=5)
    assert rate.add(0.0, 0) == 0.0
    assert rate.add(1.0, 10) == 10.0
    assert rate.add(2.0, 30) == 15.0
    for at in range(3, 12):
        last = rate.add(float(at), 30)  # nothing more finishes
    assert last == 0.0


def test_the_worker_line_says_jobs_per_second_running_pending_and_failed():
    counts = {"pending": 7, "delayed": 3, "claimed": 2, "done": 40, "failed": 5, "skipped": 0}
    assert worker_line(12.345, counts, failed=1) == "12.3 jobs/s · 2 running · 10 pending · 1 failed"


def test_the_live_line_is_drawn_from_the_queues_counts(queue):
    for i in range(3):
        queue.enqueue(jobfuncs.echo, args=(i,))
    queue.enqueue(jobfuncs.fail, max_attempts=1)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with WorkerProgress(queue._live_store(), console):
        Worker(queue).run(burst=True)
    drawn = out.getvalue()
    assert "0.0 jobs/s · 0 running · 4 pending · 0 failed" in drawn
    assert "0 pending · 1 failed" in drawn


def test_the_live_line_counts_the_jobs_running_not_those_prefetched(queue):
    import re

    for _ in range(4):
        queue.enqueue(jobfuncs.nap, args=(0.4,))
    out = io.StringIO()
    worker = Worker(queue)  # one at a time, while it holds the others
    with WorkerProgress(queue._live_store(), Console(file=out, force_terminal=True, width=120),
                        running=lambda: worker.running):
        worker.run(burst=True)
    shown = {int(n) for n in re.findall(r"(\d+) running", out.getvalue())}
    assert shown <= {0, 1} and 1 in shown


def test_the_live_line_ends_its_line_when_forced_without_a_terminal(queue):
    queue.enqueue(jobfuncs.echo, args=(1,))
    out = io.StringIO()
    with WorkerProgress(queue._live_store(), Console(file=out, force_terminal=False, width=120)):
        Worker(queue).run(burst=True)
    assert out.getvalue().endswith("0 failed\n")  # what is printed next starts a line of its own


def test_dag_execute_draws_a_progress_bar(queue, capsys):
    with DAG("bar", queue=queue) as dag:
        dag.add_job(jobfuncs.echo, name="a", args=(1,))
        dag.add_job(jobfuncs.fail, name="b", depends_on="a", max_attempts=1)
        dag.add_job(jobfuncs.echo, name="c", args=(2,), depends_on="b")
    assert dag.execute(timeout=20, progress=True) is False
    err = capsys.readouterr().err
    assert "bar" in err and "3/3" in err and "1 failed, 1 skipped" in err


def test_the_worker_prints_log_lines_without_a_terminal_or_with_no_progress(db_path):
    from queuack import DuckQueue

    with DuckQueue(db_path) as q:
        q.enqueue(jobfuncs.echo, args=(1,))
    for extra in ([], ["--no-progress"]):
        result = subprocess.run([sys.executable, "-m", "queuack", "worker", db_path, "--burst", *extra],
                                env=subprocess_env(), capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "jobs/s" not in result.stderr and " INFO queuack.cli: worker " in result.stderr


def test_a_long_command_step_shows_a_spinner_on_a_terminal_only_after_a_second():
    import time

    from queuack.progress import Working

    for terminal, seconds, shown in ((True, 0.0, False), (True, 1.3, True), (False, 1.3, False)):
        out = io.StringIO()
        with Working("copying", Console(file=out, force_terminal=terminal, width=80), after=1.0):
            time.sleep(seconds)
        assert ("copying" in out.getvalue()) is shown, (terminal, seconds)
