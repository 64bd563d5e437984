"""The `queuack` command: run a worker on a queue file, and look after its jobs.

    queuack worker DB|URL [--queue NAME]... [--concurrency N] [--pool thread|process] [--burst] [--path DIR]...
    queuack stats DB|URL [--queue NAME] [--json]
    queuack dead-letters DB|URL [--limit N] [--json]
    queuack retry DB|URL JOB_ID | --all [--queue NAME] [--dag-run ID]

DB is a DuckDB queue file; URL a PostgreSQL database (postgresql://user:password@host:5432/db),
where any number of these commands and workers may run at once.

Every command opens an existing queue file and never creates one; `stats` and `dead-letters` open
it read-only and write nothing. Problems with the file (missing, held by another process, not a
queuack database) are one line on stderr and exit code 2, no traceback; so are unknown job ids.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from contextlib import contextmanager, nullcontext
from typing import Iterator

import click

from .backend import is_postgres_url
from .errors import QueuackError, WorkerSetupError
from .jobs import Job, JobStatus
from .queue import DuckQueue
from .serialization import ANY, CODECS, Loader

_DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file

log = logging.getLogger("queuack.cli")


# -- opening a queue file --------------------------------------------------------------------------
class InputError(click.ClickException):
    """A file, queue or job that cannot be used as given: one line on stderr, exit code 2, no usage
    block (the command line itself was fine)."""

    exit_code = 2


def _check_file(path: str) -> None:
    """Refuse, before DuckDB gets a chance to create anything, what cannot be an existing queue."""
    if not os.path.exists(path):
        raise InputError(
            f"{path} does not exist. Give the path of an existing queue database "
            "(DuckQueue(path) creates one when it opens it)."
        )
    if os.path.isdir(path):
        raise InputError(f"{path} is a directory, not a queue database file.")
    try:
        with open(path, "rb") as handle:
            header = handle.read(12)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}.") from None
    if header[8:12] != _DUCKDB_MAGIC:
        raise InputError(f"{path} is not a DuckDB database file.")


def open_existing(path: str, schema_may_be_new: bool = False, **options) -> DuckQueue:
    """The queue already in `path`: commands that read or act on a queue never create one, so a
    missing file, or a PostgreSQL database without a queue, is refused with nothing changed.
    schema_may_be_new: a worker creates the queue in an empty PostgreSQL database (a server's
    database is made by its administrator; a DuckDB file is made by DuckQueue(path))."""
    if not is_postgres_url(path):  # a server URL is checked by connecting to it
        _check_file(path)
    elif not options.get("read_only") and not schema_may_be_new:
        DuckQueue(path, read_only=True).close()  # raises NotAQueueDatabaseError where there is no queue
    return DuckQueue(path, **options)


@contextmanager
def open_queue(path: str, schema_may_be_new: bool = False, **options) -> Iterator[DuckQueue]:
    """The queue in an existing file; read_only=True for commands that only look (they never write).
    What queuack refuses (a file held by another process, another application's database) is a
    InputError."""
    try:
        queue = open_existing(path, schema_may_be_new, **options)
    except QueuackError as exc:
        raise InputError(str(exc)) from None
    try:
        yield queue
    finally:
        queue.close()


# -- describing jobs ---------------------------------------------------------------------------
def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def first_line(text: str | None, width: int = 100) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


# -- commands --------------------------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="queuack", prog_name="queuack")
def cli() -> None:
    """Run and inspect queuack job queues: a DuckDB file, or a PostgreSQL URL
    (postgresql://user:password@host:5432/dbname).

    Only one process can open a DuckDB file at a time: run these commands while no other
    process (a worker, your application) holds the queue file. A PostgreSQL queue has no such
    limit: run any number of workers, and look at the live queue from anywhere.
    """


@cli.command()
@click.argument("db", metavar="DB|URL")
@click.option("--queue", "-Q", "queues", multiple=True, metavar="NAME",
              help="A queue to take jobs from; repeat it for several, in priority order. Default: every queue.")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=1, show_default=True,
              help="Jobs run at once, each on its own thread (or child process, with --pool process).")
@click.option("--pool", type=click.Choice(["thread", "process"]), default="thread", show_default=True,
              help="Where jobs run: threads of the worker, or spawned child processes (every core for "
                   "CPU-bound tasks; a timeout kills the child). The worker process keeps the database.")
@click.option("--burst", is_flag=True, help="Return once nothing is ready instead of waiting for new jobs.")
@click.option("--path", "paths", multiple=True, metavar="DIR", type=click.Path(file_okay=False),
              help="Add DIR to the import path so that job functions can be imported (repeatable). "
                   "The current directory is always added, as `python -m` does.")
@click.option("--visibility-timeout", type=click.FloatRange(min=0, min_open=True), default=300.0,
              show_default=True, help="Seconds a claimed job stays leased before another claim may take it.")
@click.option("--serializer", type=click.Choice(CODECS), default="pickle", show_default=True,
              help="What the worker decodes: json never unpickles (a row stored with pickle fails "
                   "without running). Use the serializer the queue was created with.")
@click.option("--allow", "allow", multiple=True, metavar="MODULE",
              help="A module (with its submodules) or module:function whose functions the worker may "
                   f"run (repeatable; {ANY!r} for any). Default: any function with --serializer pickle, "
                   "none with json. A job naming another function fails without running.")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              default="INFO", show_default=True, help="Logging detail, written to stderr.")
@click.option("--progress/--no-progress", default=None,
              help="A live line (jobs/s, running, pending, failed) on stderr. Default: when stderr is a terminal.")
@click.option("--ui", "ui_address", metavar="[HOST:]PORT",
              help="Serve the web dashboard from this worker (the way to watch a DuckDB file a worker holds); "
                   "PORT 0 picks a free one. A HOST other than loopback needs --ui-token.")
@click.option("--ui-token", envvar="QUEUACK_UI_TOKEN", metavar="TOKEN",
              help="Token the dashboard asks for (default: $QUEUACK_UI_TOKEN).")
def worker(db: str, queues: tuple[str, ...], concurrency: int, pool: str, burst: bool, paths: tuple[str, ...],
           visibility_timeout: float, serializer: str, allow: tuple[str, ...], log_level: str,
           progress: bool | None, ui_address: str | None, ui_token: str | None) -> None:
    """Run jobs from the queue file DB (or the PostgreSQL URL) until stopped: SIGTERM or Ctrl-C
    finish the running jobs first; a second one stops now and returns the running jobs to the queue.

    Job functions are stored by reference (module and name), so the worker must be able to import
    them: start it from your project directory, or add directories with --path. When it cannot
    import one, it leaves that job pending (no attempt counted) and exits with status 1.
    """
    if progress is None:
        progress = sys.stderr.isatty()
    console = None
    if progress:  # log lines go through the console that draws the live line, above it
        from rich.console import Console
        from rich.logging import RichHandler

        console = Console(stderr=True)
        logging.basicConfig(level=log_level.upper(), format="%(name)s: %(message)s",
                            handlers=[RichHandler(console=console, show_path=False)])
    else:
        logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for directory in reversed((os.getcwd(),) + tuple(os.path.abspath(p) for p in paths)):
        if directory not in sys.path:
            sys.path.insert(0, directory)
    from .worker import Worker

    try:
        options = {"serializer": serializer, "allow": list(allow) or None}
        Loader(**options)  # a malformed --allow is a usage error, before the file is opened
    except (TypeError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="'--allow'") from None
    ui_host, ui_port = _ui_address(ui_address) if ui_address else (None, None)
    if ui_address:
        from .ui.app import check_bind

        try:  # before the queue is opened and jobs start
            check_bind(ui_host, ui_token, "--ui-token or QUEUACK_UI_TOKEN")
        except QueuackError as exc:
            raise click.BadParameter(str(exc), param_hint="'--ui'") from None
    with open_queue(db, schema_may_be_new=True, visibility_timeout=visibility_timeout, **options) as queue:
        before = queue.stats()
        runner = Worker(queue, queues=list(queues) or None, concurrency=concurrency, pool=pool)
        log.info("worker %s on %s: queues %s, concurrency %d, %s%s", runner.worker_id, db, ", ".join(queues) or "all",
                 concurrency, "on threads" if pool == "thread" else "in child processes", ", burst" if burst else "")
        server = _start_ui(queue, ui_host, ui_port, ui_token) if ui_address else None
        started = time.monotonic()
        live = nullcontext()
        if console is not None:
            from .progress import WorkerProgress

            live = WorkerProgress(queue._live_store(), console, queues[0] if len(queues) == 1 else None,
                                  running=lambda: runner.running)
        try:
            with live:
                processed = runner.run(burst=burst)
        except WorkerSetupError as exc:  # logged already; jobs left pending
            raise click.ClickException(f"worker stopped: {exc}") from None
        finally:
            if server is not None:
                server.should_exit = True
        elapsed = time.monotonic() - started
        after = queue.stats()
    done = after["done"] - before["done"]
    failed = after["failed"] - before["failed"]
    click.echo(f"processed {plural(processed, 'job')} in {elapsed:.1f}s "
               f"({done} done, {failed} failed for good; {after['pending']} pending, "
               f"{after['delayed']} delayed left)")


@cli.command()
@click.argument("db", metavar="DB|URL")
@click.option("--queue", "-Q", "queue_name", metavar="NAME", help="Only this queue.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as a JSON object.")
def stats(db: str, queue_name: str | None, as_json: bool) -> None:
    """Job counts by status, per queue (--json: the totals, and the same per queue under "queues")."""
    with open_queue(db, read_only=True) as queue:
        per_queue = queue._live_store().counts()  # one read: the totals add up to the rows
    if queue_name is not None:
        if queue_name not in per_queue:
            names = sorted(per_queue)
            raise InputError(f"{db} has no queue named {queue_name!r}: " + (
                f"its queues are {', '.join(map(repr, names))}." if names else "it holds no jobs yet."))
        per_queue = {queue_name: per_queue[queue_name]}
    per_queue = dict(sorted(per_queue.items()))
    total = {s.value: sum(counts[s.value] for counts in per_queue.values()) for s in JobStatus}
    if as_json:
        click.echo(json.dumps({**total, "queues": per_queue}))
        return
    statuses = [s.value for s in JobStatus]
    rows = [[name] + [str(counts[s]) for s in statuses] for name, counts in per_queue.items()]
    if queue_name is None:
        rows.append(["(all)"] + [str(total[s]) for s in statuses])
    click.echo(_table(["queue"] + statuses, rows))


@cli.command("dead-letters")
@click.argument("db", metavar="DB|URL")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=100, show_default=True,
              help="Show at most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (with the full error text).")
def dead_letters(db: str, limit: int, as_json: bool) -> None:
    """Jobs that failed for good: id, name, attempts and the first line of the error."""
    with open_queue(db, read_only=True) as queue:
        jobs = queue.list_dead_letters(limit=limit)
    if as_json:
        click.echo(json.dumps([
            {"id": j.id, "queue": j.queue, "function": j.function, "node_name": j.node_name,
             "dag_run_id": j.dag_run_id, "attempts": j.attempts, "max_attempts": j.max_attempts,
             "error": j.error, "traceback": j.traceback, "completed_at": j.completed_ts}
            for j in jobs
        ], indent=2))
        return
    if not jobs:
        click.echo("no dead letters")
        return
    rows = [[j.id, j.node_name or j.function, f"{j.attempts}/{j.max_attempts}", first_line(j.error)]
            for j in jobs]
    click.echo(_table(["id", "name", "attempts", "error"], rows))


@cli.command()
@click.argument("db", metavar="DB|URL")
@click.argument("job_id", required=False)
@click.option("--all", "every", is_flag=True, help="Retry every dead letter (narrowed by --queue, --dag-run).")
@click.option("--queue", "-Q", "queue_name", metavar="NAME", help="With --all: only the dead letters of this queue.")
@click.option("--dag-run", "dag_run", metavar="ID", help="With --all: only the dead letters of this DAG run.")
def retry(db: str, job_id: str | None, every: bool, queue_name: str | None, dag_run: str | None) -> None:
    """Put a dead letter (a failed job) back in its queue with a fresh set of attempts; the DAG
    jobs skipped because it failed are pending again too, so the DAG run resumes."""
    if (job_id is None) == (not every):
        raise click.UsageError("give either a JOB_ID or --all")
    if not every and (queue_name or dag_run):
        raise click.UsageError("--queue and --dag-run narrow --all; with a JOB_ID leave them out")
    with open_queue(db) as queue:
        if every:
            retried = queue.retry_dead_letters(queue_name, dag_run)
            skipped = (f"; {plural(len(retried.skipped), 'job')} skipped: no longer a dead letter (retried or "
                       "purged by another process meanwhile)") if retried.skipped else ""
            click.echo((f"retried {plural(len(retried), 'dead letter')}" if retried else "no dead letters to retry")
                       + skipped)
            return
        try:
            resumed = queue.retry_dead_letter(job_id)
        except QueuackError as exc:  # an unknown job, or one that is not a dead letter
            raise InputError(str(exc)) from None
        job = queue.get_job(job_id)
    also = f"; {plural(len(resumed), 'job')} skipped because of it pending again" if resumed else ""
    click.echo(f"job {job_id} ({job.node_name or job.function}) is pending again in queue "
               f"{job.queue!r} with {plural(job.max_attempts, 'attempt')}{also}")


@cli.command()
@click.argument("src", metavar="SRC")
@click.argument("dst", metavar="DST")
@click.option("--append", is_flag=True, help="Add to the jobs DST already holds instead of refusing.")
def copy(src: str, dst: str, append: bool) -> None:
    """Copy a whole queue from SRC to DST (a DuckDB file or a PostgreSQL URL, either way): pending,
    delayed and failed jobs, finished jobs with their results, DAG runs with their dependencies.

    Stop the workers of SRC first: a job claimed there is copied as pending (its attempt counts if it had started) and
    runs again on DST. A new DuckDB file is created for DST; DST already holding jobs is refused
    unless --append (jobs with the same id are then left as DST has them). SRC is not changed.
    """
    if src == dst:
        raise InputError("SRC and DST are the same queue: give another destination.")
    from .progress import Working

    with open_queue(src, read_only=True) as source:
        source_name = source._live_store().path  # never with a password
        with Working(f"reading {source_name}"):
            snapshot = source._live_store().export_rows()
    try:
        target = DuckQueue(dst)
    except QueuackError as exc:
        raise InputError(str(exc)) from None
    target_name = target._live_store().path
    try:
        held = sum(target.stats().values())
        if held and not append:
            raise InputError(f"{target_name} already holds {plural(held, 'job')}: pass --append to add "
                             f"the jobs of {source_name} to them, or copy into an empty queue.")
        with Working(f"writing {plural(len(snapshot.jobs), 'job')} to {target_name}"):
            target._live_store().import_rows(snapshot)
        counts = target.stats()
    finally:
        target.close()
    by_status = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    click.echo(f"copied {plural(len(snapshot.jobs), 'job')}, {plural(len(snapshot.edges), 'dependency edge')} and "
               f"{plural(len(snapshot.runs), 'DAG run')}; {target_name} "
               f"now holds {by_status or 'nothing'}")


def _ui_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
        if not 0 <= number <= 65535:
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"{text!r} is not [HOST:]PORT (a port from 0 to 65535, 0 for a free one)",
                                 param_hint="'--ui'") from None
    return host or "127.0.0.1", number


def _where_the_token_came_from() -> str:
    source = click.get_current_context().get_parameter_source("ui_token")
    return "in $QUEUACK_UI_TOKEN" if source == click.core.ParameterSource.ENVIRONMENT else "given with --ui-token"


def _start_ui(queue: DuckQueue, host: str, port: int, token: str | None):
    from .ui import serve

    try:
        return serve(queue, host, port, token=token, announce=lambda line: log.info("%s", line), in_thread=True,
                     token_from=_where_the_token_came_from())
    except QueuackError as exc:
        raise click.BadParameter(str(exc), param_hint="'--ui'") from None


@cli.command()
@click.argument("db", metavar="DB|URL")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs a token.")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Port to listen on. Default: a free one, printed.")
@click.option("--read-only", is_flag=True, help="No actions (retry, cancel, purge); a DuckDB file is opened read-only.")
@click.option("--token", envvar="QUEUACK_UI_TOKEN", metavar="TOKEN",
              help="Ask for this token (default: $QUEUACK_UI_TOKEN); required off loopback.")
@click.option("--serializer", type=click.Choice(CODECS), default="json", show_default=True,
              help="Which stored arguments and results the pages decode: json never unpickles; pickle "
                   "shows pickled values too (unpickling runs code: only for a queue you trust).")
def ui(db: str, host: str, port: int, read_only: bool, token: str | None, serializer: str) -> None:
    """Serve a web dashboard of the queue: overview, jobs, DAG runs and their graphs, dead letters,
    live; retry, cancel and purge from the page; Prometheus metrics at /metrics.

    A DuckDB file belongs to one process: while a worker holds it, serve the dashboard from that
    worker instead (queuack worker DB --ui PORT)."""
    from .errors import DatabaseLockedError
    from .ui import serve
    from .ui.app import check_bind

    try:
        check_bind(host, token)
    except QueuackError as exc:
        raise click.BadParameter(str(exc), param_hint="'--host'") from None
    try:
        queue = open_existing(db, read_only=read_only, serializer=serializer, allow=[])
    except DatabaseLockedError as exc:
        raise InputError(f"{db} is held by another process{f' ({exc.detail})' if exc.detail else ''}. A DuckDB "
                         f"file belongs to one process: if a worker runs on it, serve the dashboard from that "
                         f"worker: queuack worker {db} --ui 127.0.0.1:0") from None
    except QueuackError as exc:
        raise InputError(str(exc)) from None
    try:
        serve(queue, host, port, read_only=read_only, token=token,
              announce=lambda line: click.echo(f"queuack: {line} (Ctrl-C to stop)"))
    except QueuackError as exc:
        raise InputError(str(exc)) from None
    finally:
        queue.close()


def main(argv: list[str] | None = None) -> None:
    """The console script `queuack` (and `python -m queuack`)."""
    try:
        cli.main(args=argv, prog_name="queuack")
    except KeyboardInterrupt:  # Ctrl-C before the worker took over the signal
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
