"""The DuckDB store: the one place for connections, transactions and every SQL statement.

One process owns a database file (DuckDB refuses a second one). Inside that process every
DuckQueue on the same file shares one Store, so they see the same data, the same lock and the
same wake-ups. Because the owner is the only writer, the scheduling state (which job is ready,
which parents a job still waits for, whose lease runs out when) is derived from the rows once, when
the file is opened, and then kept in memory by a Scheduler (scheduler.py, no SQL). A claim is then a
single UPDATE by primary key instead of a scan-and-sort, and completing a parent costs no extra
statement for its children.

Every change is written to DuckDB inside one transaction before the in-memory state follows it,
so a failed statement leaves both as they were.

The counts by queue and status (stats(), the dashboard, /metrics) are exact and never count the
stored rows again: the unfinished jobs come from the schedule, and the finished ones are counted
once, the first time they are asked for, and then kept as this process commits changes to them
(_finished_counts). No schema change and no write: the owner is the only writer.

A full disk (or a file that cannot grow) makes a write fail with StorageWriteError, and nothing of
that change is stored; the connection stays usable and the same change can be tried again. DuckDB's
automatic checkpoint is turned off: when it fails, DuckDB reports an error for the commit that
triggered it although that commit is durable, and invalidates the database. The store checkpoints
itself instead, after a commit has returned; when that fails, it reopens the database (the
write-ahead log holds every commit) and tries again at a later write.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from typing import Iterable, Iterator, Sequence

import duckdb

from .backend import (COPY_COLUMNS, JOB_COLUMNS, LISTED_COLUMNS, LOST, MEMORY, RUN_COLUMNS, SKIPPED_ERROR,
                      THROUGHPUT_WINDOW, Backend, JobFilter, NewJob, Outcome, Overview, RetryPolicy, RunGraph,
                      RunFacts, RunSummary, Snapshot, count_runs, counted, listed, listing_query, registry_lock)
from .errors import (DatabaseLockedError, DAGValidationError, JobNotFoundError, NotADeadLetterError, QueuackError,
                     StorageWriteError)
from .jobs import Job, JobStatus
from . import files, schema
from .journal import Journal
from .startlog import StartLog
from .scheduler import Scheduler, gate, resumable
from .values import LARGE, ValueFiles, is_ref, ref_name

_BLOB_COLUMNS = (1, 2, 3, 16)  # func, args, kwargs, result in JOB_COLUMNS
_INSERT_COLUMNS = (
    "id, queue, status, priority, seq, codec, func, args, kwargs, created_at, execute_after, attempts, "
    "max_attempts, timeout_seconds, node_name, dag_run_id, dependency_mode, completed_at, error"
)
_RESULT_CACHE_BYTES = 64 * 1024 * 1024
_JOURNAL_COLUMNS = tuple(c.strip() for c in _INSERT_COLUMNS.split(","))
# A user's own ack() is journalled (see _journal_outcomes); the Worker's group commits are not: a
# small group would then cost a journal sync and a commit where it costs one commit now.
# durable = the claim was written to the file.
_OUTCOME_COLUMNS = ("id", "attempt", "durable", "result", "completed_at", "claimed_at")
_OUTCOME_SUFFIX = ".queuack-outcomes"
# A journalled ack v applies to row j while the claim it ended is still current (so replaying an
# applied one changes nothing).
_ACK_CURRENT = """j.id = v.id AND CASE WHEN v.durable = 1 THEN j.status = 'claimed' AND j.attempts = v.att
                                      ELSE j.status = 'pending' AND j.attempts = v.att - 1 END"""
_ACKS = """SELECT unnest($ids) AS id, unnest($att) AS att, unnest($durable) AS durable, unnest($res) AS res,
                  unnest($at) AS at, unnest($claimed)::DOUBLE AS claimed"""
_APPLY_OUTCOMES = f"""
    UPDATE jobs AS j SET status = 'done', attempts = v.att, result = v.res, completed_at = v.at, error = NULL,
        traceback = NULL, lease_expires_at = NULL, claimed_at = coalesce(v.claimed, j.claimed_at)
    FROM ({_ACKS}) v WHERE {_ACK_CURRENT}"""
_CHECKPOINT_WAL_BYTES = 16 * 1024 * 1024  # DuckDB's own default checkpoint_threshold
_NO_AUTO_CHECKPOINT = {"checkpoint_threshold": "1TB"}  # see the module docstring
_LOAD_CHUNK = 5_000  # rows fetched at a time when the schedule is rebuilt at open
# A claim reads its jobs' rows, and with them the rows next in seq order (see _read_claimed)
_READ_AHEAD = 2048  # rows at most, kept until their job is claimed or finishes
_READ_AHEAD_ROW_BYTES = 64 * 1024  # a larger job is read only when it is claimed

log = logging.getLogger("queuack.store")


_registry: dict[str, "Store"] = {}
_registry_lock = registry_lock


@atexit.register
def _close_at_exit() -> None:
    """A script that ends without close() still leaves its files closed cleanly."""
    with _registry_lock:
        stores = list(_registry.values())
        _registry.clear()
    for store in stores:
        try:
            store._shutdown()
        except Exception:
            pass  # the interpreter is going away; the next open recovers anyway


def _write_failure(exc: BaseException) -> bool:
    """True for DuckDB's ways of saying that a write to its files failed (disk full, I/O error)."""
    text = str(exc).lower()
    return isinstance(exc, (duckdb.IOException, duckdb.FatalException)) or "could not write" in text


def _connect(path: str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to a queuack database, created or upgraded as needed (see schema.py); a file
    that is not ours is refused unchanged. Opening a DuckDB file for writing changes nothing by
    itself, unless a write-ahead log lies beside it: DuckDB replays that into the file, so such a
    file is first looked at read-only (tests/runtime/test_database_identity.py checks both)."""
    if path == MEMORY:
        conn = duckdb.connect(path)
        schema.prepare(conn, path, found=schema.Found("empty"))
        return conn
    try:
        files.check_wal(path)
        if read_only:
            if not os.path.exists(path):
                raise QueuackError(f"{path} does not exist: there is no queue to read there.")
            conn = duckdb.connect(path, read_only=True)
            _prepared(conn, path, read_only=True)
            return conn
        found = None
        if not os.path.exists(path):
            try:
                files.create_database(path)
            except OSError as exc:
                raise QueuackError(f"cannot create the queue database {path}: {exc.strerror or exc}") from None
        elif os.path.exists(path + ".wal"):  # opening it for writing would replay the log into it
            try:
                probe = duckdb.connect(path, read_only=True)
            except duckdb.ConnectionException:
                pass  # this process already has it open (another connection): nothing to replay
            else:
                try:
                    found = schema.identify(probe)
                    schema.refuse_unless_ours(found, path)
                finally:
                    probe.close()
        conn = duckdb.connect(path, config=_NO_AUTO_CHECKPOINT)
        _prepared(conn, path, found=found, wal=True)
        return conn
    except duckdb.IOException as exc:
        locked = DatabaseLockedError.from_duckdb(path, exc)
        if locked:
            raise locked from None
        text = str(exc)
        raise QueuackError(
            f"cannot open {path} as a queue database: {text}. If the file is not a DuckDB database "
            "(or was damaged), move it aside and open a new file; nothing was changed."
        ) from None
    except duckdb.Error as exc:
        raise QueuackError(
            f"cannot open {path} as a queue database: {exc}. Move the file aside if it is not a "
            "queuack database; nothing was changed."
        ) from None


def _prepared(conn, path: str, read_only: bool = False, found=None, wal: bool = False) -> None:
    """schema.prepare, having made sure the database is ours before anything is written: then,
    with wal=True, the write-ahead log is created owner-only first (see files.py)."""
    try:
        if wal:
            found = found or schema.identify(conn)
            schema.refuse_unless_ours(found, path)
            files.prepare_wal(path)
        schema.prepare(conn, path, read_only, found)
    except BaseException:
        conn.close()
        raise


def _outcome_journal(path: str) -> Journal:
    return Journal(path, _OUTCOME_SUFFIX, "outcome")


def _outcome_params(rows: list[tuple]) -> dict[str, list]:
    """Journalled acks (_OUTCOME_COLUMNS rows) as the lists _APPLY_OUTCOMES unnests."""
    return {name: [r[n] for r in rows] for n, name in enumerate(("ids", "att", "durable", "res", "at", "claimed"))}


class Store(Backend):
    """Shared, reference-counted access to one database."""

    _registry = _registry

    @classmethod
    def open(cls, path: str, read_only: bool = False) -> "Store":
        """The store of this database; read_only=True reads a file that no one in this process has
        open without writing anything to it (the store of one that is open is shared instead)."""
        if path == MEMORY:
            if read_only:
                raise QueuackError("read_only=True needs the path of an existing queue file, not :memory:")
            store = cls(path)
            store._refs = 1
            return store
        key = os.path.realpath(path)
        with _registry_lock:
            store = _registry.get(key)
            if store is None and read_only:
                store = cls(path, read_only=True)
                store._refs = 1
                return store
            if store is None:
                store = cls(path)
                _registry[key] = store
            store._refs += 1
            store._key = key
            return store

    def __init__(self, path: str, read_only: bool = False):
        self.path = path
        self.read_only = read_only
        self._refs = 0
        self._closed = False
        self._key: str | None = None
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)  # notified when work may have become ready
        self.conn = _connect(path, read_only)
        self._reopen_needed = False  # a failed checkpoint invalidated the connection (see _checkpoint)
        self.sched = Scheduler()
        self._parent_names: dict[str, list[tuple[str, str | None]]] = {}  # unfinished job -> its parents
        self._ahead: dict[str, tuple] = {}  # rows read ahead of their claim (JOB_COLUMNS), see _read_claimed
        # claimed at attempt 1 with the error of an earlier life (retry_failed keeps it readable):
        # their success must clear it, as a later attempt's does
        self._old_error: set[str] = set()
        self.values = ValueFiles(None if path == MEMORY else path)  # large arguments and results
        self._results: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self._results_bytes = 0
        self._seq = 0
        self._finished: dict[tuple[str, str], int] | None = None  # see _finished_counts
        self._unflushed: list[tuple] = []  # journalled INSERT rows not yet in DuckDB
        self._journal_file: Journal | None = None
        self._unapplied: list[tuple] = []  # journalled acks (_OUTCOME_COLUMNS) not yet in DuckDB
        self._outcome_file: Journal | None = None
        self._start_log = StartLog(path) if path != MEMORY and not read_only else None
        try:
            if read_only:
                self._show_journal()
                return
            self._open_journal()
            crashed = self._take_ownership()
            self._replay_start_log()
            self._load()
            self._recover(crashed)
            if self._start_log is not None:
                self._start_log.discard()  # what it said is in the database now
            self._drop_unreferenced_values()
        except Exception:
            self.conn.close()
            for journal in (self._journal_file, self._outcome_file):
                if journal is not None:
                    journal.close()
            raise

    # -- the enqueue and outcome journals (see journal.py) -------------------------------------
    # Journalled rows reach DuckDB in one multi-row INSERT before any other statement touches the
    # database; replaying a row that already reached DuckDB does nothing (INSERT OR IGNORE on the id).
    # Journalled acks follow the same way (one UPDATE after the INSERT), and are replayed at open
    # before the start log and crash recovery look at the claims.

    def _open_journal(self) -> None:
        if self.path == MEMORY:
            return  # nothing survives a crash in memory anyway: rows just wait in _unflushed
        self._journal_file = Journal(self.path)
        self._outcome_file = _outcome_journal(self.path)
        self._unflushed = self._journal_file.read(_JOURNAL_COLUMNS)
        self._unapplied = self._outcome_file.read(_OUTCOME_COLUMNS)
        self._flush_journal()
        self._journal_file.discard()
        self._outcome_file.discard()

    def _show_journal(self) -> None:
        """Read-only: jobs that only the journal holds, and acks that only the outcome journal holds
        (their last owner crashed), are shown through a temporary view; nothing is written."""
        rows = Journal(self.path).read(_JOURNAL_COLUMNS, set_aside=False)
        acks = _outcome_journal(self.path).read(_OUTCOME_COLUMNS, set_aside=False)
        if not rows and not acks:
            return
        stored = f"{self.conn.execute('SELECT current_schema()').fetchone()[0]}.jobs"
        shown = stored
        if rows:
            self.conn.execute(f"CREATE TEMP TABLE journal_jobs AS SELECT * FROM {stored} LIMIT 0")
            self._write_jobs(self.conn, rows, table="temp.journal_jobs")
            shown = f"""(SELECT * FROM {stored} UNION ALL
                         SELECT * FROM temp.journal_jobs WHERE id NOT IN (SELECT id FROM {stored}))"""
        if acks:  # the same change as _APPLY_OUTCOMES, as a view
            self.conn.execute(f"CREATE TEMP TABLE journal_acks AS {_ACKS}", _outcome_params(acks))
            shown = f"""(SELECT j.* REPLACE (
                             if(v.id IS NULL, j.status, 'done') AS status, coalesce(v.att, j.attempts) AS attempts,
                             if(v.id IS NULL, j.result, v.res) AS result,
                             coalesce(v.at, j.completed_at) AS completed_at,
                             if(v.id IS NULL, j.error, NULL) AS error, if(v.id IS NULL, j.traceback, NULL) AS traceback,
                             if(v.id IS NULL, j.lease_expires_at, NULL) AS lease_expires_at,
                             coalesce(v.claimed, j.claimed_at) AS claimed_at)
                         FROM {shown} j LEFT JOIN temp.journal_acks v ON {_ACK_CURRENT})"""
        self.conn.execute(f"CREATE TEMP VIEW jobs AS SELECT * FROM {shown}")

    def _journal(self, inserted: tuple) -> None:
        if self._journal_file is not None:
            self._journal_file.append(_JOURNAL_COLUMNS, inserted)
        self._unflushed.append(inserted)

    def _flush_journal(self) -> None:
        if self._unflushed:
            self._write_jobs(self.conn, self._unflushed, replay=True)
            self._wrote()
            self._unflushed.clear()
            if self._journal_file is not None:
                self._journal_file.clear()
        if self._unapplied:
            self.conn.execute(_APPLY_OUTCOMES, _outcome_params(self._unapplied))
            self._wrote()
            self._unapplied.clear()
            if self._outcome_file is not None:
                self._outcome_file.clear()

    def _journal_outcomes(self, done: list[Outcome], now: float) -> None:
        """Make acks durable in the outcome journal; they reach DuckDB with the next statement."""
        rows = []
        for o in done:
            claim = self.sched.memory_claim(o.job_id)  # None: the claim was written to the file
            rows.append((o.job_id, o.attempt, int(claim is None), o.result, now, claim and claim[2]))
        if self._outcome_file is not None:
            self._outcome_file.append_rows(_OUTCOME_COLUMNS, rows)
        self._unapplied.extend(rows)

    def _take_ownership(self) -> bool:
        """Mark the file as open by this process (its PID); True when the previous owner did not
        close it (it crashed or was killed). A clean close clears the mark."""
        if self.path == MEMORY:
            return False
        crashed = self.conn.execute("SELECT count(*) FROM owner").fetchone()[0] > 0
        with self.transaction() as conn:
            conn.execute("DELETE FROM owner")
            conn.execute("INSERT INTO owner VALUES (?, ?)", [os.getpid(), time.time()])
        return crashed

    # -- lifetime -------------------------------------------------------------------------
    def _shutdown(self) -> None:
        with self.lock:
            if self._closed:
                return
            try:
                self._flush_journal()
                if self.path != MEMORY and not self.read_only:
                    self.conn.execute("DELETE FROM owner")  # a clean close (see _take_ownership)
            finally:
                self._closed = True
                self.conn.close()
                if self.path != MEMORY and not self.read_only:
                    files.remove_empty_wal(self.path)
                for journal in (self._journal_file, self._outcome_file):
                    if journal is not None:
                        journal.close()  # removed when empty
                if self._start_log is not None:
                    self._start_log.close()
                self.changed.notify_all()

    @contextmanager
    def transaction(self, statements: int = 2) -> Iterator[duckdb.DuckDBPyConnection]:
        """All or nothing: BEGIN ... COMMIT, or ROLLBACK on any error. Holds the store lock.

        A block that issues a single statement passes statements=1: DuckDB commits each statement
        atomically on its own, and the explicit BEGIN/COMMIT would double its cost.
        """
        with self.lock, self._storage(write=True):
            self._flush_journal()
            if statements == 1:
                yield self.conn
                self._wrote()
                return
            self.conn.execute("BEGIN TRANSACTION")
            try:
                yield self.conn
            except BaseException:
                try:
                    self.conn.execute("ROLLBACK")
                except duckdb.TransactionException:
                    pass  # the failure already ended the transaction
                raise
            self.conn.execute("COMMIT")
            self._wrote()

    def _writable(self) -> None:
        if self._closed:
            raise QueuackError(f"the queue on {self.path} is closed")
        if self.read_only:
            raise QueuackError(f"the queue on {self.path} was opened read-only: it cannot change jobs. "
                               "Open it with DuckQueue(path) to enqueue, claim or retry.")

    @contextmanager
    def _storage(self, write: bool = False) -> Iterator[None]:
        """Use the connection (lock held): reopen it first if a failed checkpoint invalidated it,
        and turn a failed write into StorageWriteError."""
        if write:
            self._writable()
        elif self._closed:
            raise QueuackError(f"the queue on {self.path} is closed")
        try:
            if self._reopen_needed:
                self._reopen()
            yield
        except duckdb.Error as exc:
            if isinstance(exc, duckdb.FatalException):
                self._reopen_needed = True
            if _write_failure(exc):
                raise StorageWriteError(self.path, str(exc)) from exc
            raise

    def _wrote(self) -> None:
        """After a committed write: DuckDB may have started a new write-ahead log (see files.py),
        and a long one is checkpointed into the database file."""
        if self.path == MEMORY:
            return
        wal = self.path + ".wal"
        files.restrict(wal)
        try:
            if os.path.getsize(wal) > _CHECKPOINT_WAL_BYTES:
                self._checkpoint()
        except FileNotFoundError:
            pass

    def _checkpoint(self) -> None:
        """Move the write-ahead log into the database file. Never raises: the commits are durable in
        the log already; when the checkpoint fails (disk full), DuckDB invalidates the connection,
        so it is reopened now or before the next statement, and a later write tries again."""
        try:
            self.conn.execute("CHECKPOINT")
        except duckdb.Error as exc:
            log.warning("checkpoint of %s failed, will retry at a later write: %s", self.path, exc)
            self._reopen_needed = True
            try:
                self._reopen()
            except StorageWriteError:
                pass  # retried before the next statement
            return
        try:
            files.prepare_wal(self.path)  # DuckDB deleted the log; the next write appends to ours
        except (OSError, QueuackError) as exc:  # DuckDB creates the log itself: _wrote narrows it
            log.warning("cannot prepare the write-ahead log of %s: %s", self.path, exc)

    def _reopen(self) -> None:
        """Replace an invalidated connection; the database replays its write-ahead log."""
        try:
            self.conn.close()
        except duckdb.Error:
            pass
        try:
            self.conn = _connect(self.path)
        except QueuackError as exc:
            raise StorageWriteError(self.path, f"cannot reopen the database after a failed write: {exc}") from exc
        self._reopen_needed = False

    def query(self, sql: str, params: object = None) -> list[tuple]:
        with self.lock, self._storage():
            self._flush_journal()
            return self.conn.execute(sql, params).fetchall()

    # -- opening: recovery and the in-memory schedule -----------------------------------------
    def _load(self) -> None:
        self._seq = (self.conn.execute("SELECT max(seq) FROM jobs").fetchone()[0] or 0) + 1
        parents: dict[str, list[tuple[str, str]]] = {}
        for child, parent, status, name in self.conn.execute(
            """SELECT d.child_id, d.parent_id, p.status, p.node_name FROM job_dependencies d
               JOIN jobs c ON c.id = d.child_id JOIN jobs p ON p.id = d.parent_id
               WHERE c.status IN ('pending', 'claimed') ORDER BY d.child_id, d.position"""
        ).fetchall():
            self._parent_names.setdefault(child, []).append((parent, name))
            parents.setdefault(child, []).append((parent, status))
        now = time.time()
        cursor = self.conn.execute(
            """SELECT id, queue, priority, seq, execute_after, dependency_mode, max_attempts, attempts, status
               FROM jobs WHERE status IN ('pending', 'claimed')""")
        while chunk := cursor.fetchmany(_LOAD_CHUNK):  # in chunks: a million rows at once would peak high
            for job_id, queue, priority, seq, after, mode, max_attempts, attempts, status in chunk:
                waiting_on, satisfied, _ = gate(mode, parents.get(job_id, ()))
                # a job still marked claimed was left by a process that is gone: see _recover
                self.sched.add(job_id, queue, priority, seq, after, mode, max_attempts, now, waiting_on, satisfied,
                               attempts=attempts, claimed=status == "claimed")

    def _replay_start_log(self) -> None:
        """Jobs that a process that is gone started and never finished (see startlog.py) become
        claims of that process, which _recover then charges. A row that moved on since (its outcome
        was committed, or it was charged already) no longer matches the claim and is left alone."""
        running = self._start_log.read() if self._start_log is not None else {}
        if running:
            with self.transaction(statements=1) as conn:
                conn.execute(
                    """UPDATE jobs SET status = 'claimed', attempts = v.att
                       FROM (SELECT unnest($ids) AS id, unnest($att) AS att) v
                       WHERE jobs.id = v.id AND jobs.status = 'pending' AND jobs.attempts = v.att - 1""",
                    {"ids": list(running), "att": list(running.values())},
                )

    def _recover(self, crashed: bool) -> None:
        """Jobs still marked claimed belong to a process that is gone (only one process can own the
        file): their attempt counts; they run again, or fail (skipping what depends on them) when it
        was their last. The same path as an expired lease."""
        abandoned = [Outcome(job_id, attempt, "abandoned") for job_id, attempt in self.sched.claimed()]
        if abandoned:
            self.complete(abandoned)
        if crashed or abandoned:
            log.warning("%s: the process that had it open before ended without closing it; %d job(s) it "
                        "was running were charged an attempt", self.path, len(abandoned))

    def job_started(self, job: Job) -> None:
        if self._start_log is not None:
            self._start_log.started(job.id, job.attempts)

    def job_finished(self, job: Job) -> None:
        if self._start_log is not None:
            self._start_log.finished(job.id, job.attempts)

    def next_wakeup(self) -> float | None:
        """When time alone will make work claimable (a delay ends, a lease runs out), or None."""
        with self.lock:
            return self.sched.next_wakeup()

    def wait_for_work(self, timeout: float) -> None:
        with self.changed:
            self.changed.wait(timeout)

    def unfinished(self, ids: Iterable[str]) -> int:
        with self.lock:
            return self.sched.unfinished(ids)

    # -- inserting --------------------------------------------------------------------------
    def next_seq(self, count: int = 1) -> int:
        with self.lock:
            first = self._seq
            self._seq += count
            return first

    def insert(self, jobs: list[NewJob], dag_run: tuple[str, str] | None = None) -> None:
        """Insert jobs (and their edges, and a DAG run) in one transaction.

        `jobs` must be in an order where every parent inside the batch comes before its children.
        Parents outside the batch must exist already.
        """
        with self.lock:  # held until the schedule has followed the commit
            self._insert_locked(jobs, dag_run)

    def _insert_locked(self, jobs: list[NewJob], dag_run: tuple[str, str] | None) -> None:
        now = time.time()
        batch_ids = {j.id for j in jobs}
        external = {p for j in jobs for p in j.parents if p not in batch_ids}
        names = {j.id: j.node_name for j in jobs}
        if len(jobs) == 1 and not jobs[0].parents and dag_run is None:
            self._writable()
            first_seq = self.next_seq()
            plan = [((), False)]
            inserted = self._rows(jobs, plan, first_seq, now)
            self._journal(inserted[0])
            self._schedule(jobs, plan, first_seq, names, now)
            return
        with self.transaction() as conn:
            ext_status: dict[str, str] = {}
            if external:
                ext_rows = conn.execute(
                    "SELECT id, status, node_name FROM jobs WHERE id = ANY($ids)", {"ids": sorted(external)}
                ).fetchall()
                ext_status = {r[0]: r[1] for r in ext_rows}
                names.update({r[0]: r[2] for r in ext_rows})
                missing = sorted(external - ext_status.keys())
                if missing:
                    raise DAGValidationError(
                        f"depends_on names job id(s) that are not in this queue: {', '.join(missing)}. "
                        "Enqueue the parent first, or depend on a task name inside the DAG."
                    )
            first_seq = self.next_seq(len(jobs))
            plan = self._plan_insert(jobs, ext_status)
            inserted = self._rows(jobs, plan, first_seq, now)
            self._write_jobs(conn, inserted)
            edges = [(j.id, p, pos) for j in jobs for pos, p in enumerate(j.parents)]
            if edges:
                conn.execute(
                    """INSERT INTO job_dependencies
                       SELECT unnest($c), unnest($p), unnest($pos)""",
                    {"c": [e[0] for e in edges], "p": [e[1] for e in edges], "pos": [e[2] for e in edges]},
                )
            if dag_run is not None:
                conn.execute("INSERT INTO dag_runs (id, name, created_at) VALUES (?, ?, ?)",
                             [dag_run[0], dag_run[1], now])
        # committed: the schedule and the counts follow
        self._schedule(jobs, plan, first_seq, names, now)
        for j, state in zip(jobs, plan):
            if state is None:
                self._tally(j.queue, "skipped", 1)

    def _schedule(self, jobs, plan, first_seq, names, now) -> None:
        """Register newly stored jobs in the in-memory schedule (which keeps no payloads: a claim
        reads them, see claim)."""
        woke = False
        for j, seq, state in zip(jobs, range(first_seq, first_seq + len(jobs)), plan):
            if state is None:
                continue  # skipped at birth
            if j.parents:
                self._parent_names[j.id] = [(p, names.get(p)) for p in j.parents]
            waiting_on, satisfied = state
            woke |= self.sched.add(j.id, j.queue, j.priority, seq, j.execute_after, j.dependency_mode,
                                   j.max_attempts, now, waiting_on, satisfied)
        if woke or any(j.execute_after > now for j in jobs):
            self.changed.notify_all()

    @staticmethod
    def _plan_insert(jobs, ext_status):
        """For each new job: (parents to wait for, a parent already succeeded), or None when it is
        skipped at birth. ext_status: the status of each parent outside the batch."""
        plan = []
        fate: dict[str, str] = {}  # in-batch job id -> "skipped" | "pending"
        for j in jobs:
            waiting_on, satisfied, skip = gate(
                j.dependency_mode, ((p, fate.get(p) or ext_status[p]) for p in j.parents))
            fate[j.id] = "skipped" if skip else "pending"
            plan.append(None if skip else (waiting_on, satisfied))
        return plan

    def _rows(self, jobs, plan, first_seq, now) -> list[tuple]:
        """The INSERT rows (_INSERT_COLUMNS order)."""
        inserted = []
        for offset, (j, state) in enumerate(zip(jobs, plan)):
            status = "pending" if state is not None else "skipped"
            error = None if state is not None else "skipped: a job it depends on failed or was skipped"
            inserted.append((j.id, j.queue, status, j.priority, first_seq + offset, j.codec, j.func,
                             self._stash(f"{j.id}.args", j.args), self._stash(f"{j.id}.kwargs", j.kwargs), now, j.execute_after, 0, j.max_attempts, j.timeout_seconds, j.node_name,
                             j.dag_run_id, j.dependency_mode, None if state is not None else now, error))
        return inserted

    def _stash(self, name: str, blob: bytes | None) -> bytes | None:
        """A large value goes to a file of its own (see values.py); its column holds the reference."""
        if blob is None or len(blob) <= LARGE or is_ref(blob):
            return blob
        try:
            return self.values.put(name, blob)
        except OSError as exc:
            raise StorageWriteError(self.values.directory or self.path, str(exc)) from exc

    def stash_result(self, job_id: str, attempt: int, blob: bytes | None) -> bytes | None:
        """Store a large result of this attempt now, so that only its reference waits for the group
        commit. If that fails, the result waits as it is and complete() tries again (and reports)."""
        try:
            return self._stash(f"{job_id}.{attempt}.result", blob)
        except StorageWriteError:
            return blob

    def _loaded(self, row: tuple) -> tuple:
        """A JOB_COLUMNS row with the large values it refers to read back."""
        if not any(is_ref(row[i]) for i in _BLOB_COLUMNS):
            return row
        row = list(row)
        for i in _BLOB_COLUMNS:
            row[i] = self.values.get(row[i])
        return tuple(row)

    def _drop_unreferenced_values(self) -> None:
        """Value files that no row refers to: written before a crash, before their row was stored,
        or by an attempt whose outcome was not taken."""
        names = self.values.names()
        if not names:
            return
        ids = sorted({n.split(".", 1)[0] for n in names})
        kept = {ref_name(blob) for row in self.query(
            "SELECT args, kwargs, result FROM jobs WHERE id IN (SELECT unnest($ids))", {"ids": ids})
            for blob in row if is_ref(blob)}
        self.values.remove(n for n in names if n not in kept)

    def _write_jobs(self, conn, inserted: list[tuple], replay: bool = False, table: str = "jobs") -> None:
        """One multi-row INSERT. replay=True skips rows whose id is already stored."""
        if not inserted:  # an empty DAG: only its run is recorded
            return
        width = len(inserted[0])
        params = {f"c{i}": [r[i] for r in inserted] for i in range(width)}
        select = ", ".join(f"unnest($c{i})" for i in range(width))
        verb = "INSERT OR IGNORE" if replay else "INSERT"
        conn.execute(f"{verb} INTO {table} ({_INSERT_COLUMNS}) SELECT {select}", params)

    # -- claiming -----------------------------------------------------------------------------
    def claim(self, queues: Sequence[str] | None, count: int, worker_id: str, lease_seconds: float,
              only: set[str] | None = None, durable: bool = True) -> list[Job]:
        """Claim up to `count` ready jobs (only those in `only`, when given) with a lease.

        durable=True writes the claim (status, attempt count, lease) before returning. The Worker
        passes durable=False: the claim then lives in memory, where every reader in this process
        sees it, and reaches the file with the job's outcome in the next group commit. If the
        process dies first, the job is pending again, charged only if it had started (startlog.py).
        """
        with self.lock:
            self._writable()
            now = time.time()
            expired = self.sched.expired(now)
            if expired:
                self.complete([Outcome(job_id, attempt, "expired") for job_id, attempt in expired])
            self.sched.promote_due(now)
            taken = self.sched.take(queues, count, worker_id, now + lease_seconds, now, only)
            if not taken:
                return []
            picked = [job_id for job_id, _, _, _ in taken]
            try:
                rows = self._read_claimed(taken)
                jobs = []
                for job_id, _, attempt, execute_after in taken:
                    job = Job(*self._loaded(rows[job_id]), _store=self)
                    job.status, job.attempts, job.claimed_by, job.claimed_ts = (
                        JobStatus.CLAIMED, attempt, worker_id, now)
                    job.execute_after_ts = execute_after
                    job._parents = self._parent_names.get(job_id, [])
                    if job.error is not None:
                        self._old_error.add(job_id)
                    jobs.append(job)
                if durable:
                    self._persist_claims(picked)
            except BaseException:
                self.sched.untake(picked, time.time())
                raise
            return jobs

    def _read_claimed(self, taken: list[tuple[str, int, int, float]]) -> dict[str, tuple]:
        """The stored rows of the jobs just taken. Payloads are not kept in memory with the schedule
        (a million pending jobs would need gigabytes), so a claim reads them.

        One statement costs about as much for 2,000 rows as for 250, so the rows next in seq order
        (the ones the next claims take in a FIFO drain) are read in the same SELECT and kept in a
        small read-ahead until their job is claimed. The SELECT filters on a seq range because
        DuckDB's index does not serve `id = ANY(list)` (a full scan) while row groups are in seq
        order and their statistics let a range skip all but a few.
        """
        rows = {}
        missing = []
        for job_id, seq, _, _ in taken:
            row = self._ahead.pop(job_id, None)
            if row is None:
                missing.append((job_id, seq))
            else:
                rows[job_id] = row
        if not missing:
            return rows
        lo, hi = min(seq for _, seq in missing), max(seq for _, seq in missing)
        if hi - lo <= 4 * _READ_AHEAD:  # a FIFO drain: the batch and what follows it
            wanted = {job_id for job_id, _ in missing}
            for row in self.query(
                f"""SELECT {JOB_COLUMNS} FROM jobs WHERE status = 'pending' AND seq BETWEEN $lo AND $hi
                    AND octet_length(func) + octet_length(args) + octet_length(kwargs) <= $small""",
                {"lo": lo, "hi": hi + _READ_AHEAD, "small": _READ_AHEAD_ROW_BYTES},
            ):
                if row[0] in wanted:
                    rows[row[0]] = row
                elif len(self._ahead) < _READ_AHEAD:
                    self._ahead[row[0]] = row
        rest = [job_id for job_id, _ in missing if job_id not in rows]  # large, or far apart: by id
        if rest:
            rows.update((r[0], r) for r in self.query(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE seq BETWEEN $lo AND $hi AND id = ANY($ids)",
                {"lo": lo, "hi": hi, "ids": rest}))
        return rows

    def _persist_claims(self, ids: Iterable[str]) -> None:
        """Write in-memory claims to the file (status claimed, attempt counted, lease)."""
        todo = self.sched.memory_claims(ids)
        if not todo:
            return
        params = {name: [claim[n] for claim in todo] for n, name in enumerate(("ids", "att", "w", "at", "lease"))}
        sql = """UPDATE jobs SET status = 'claimed', attempts = v.att, claimed_by = v.w, claimed_at = v.at,
                     lease_expires_at = v.lease
                 FROM (SELECT unnest($ids) AS id, unnest($att) AS att, unnest($w) AS w, unnest($at) AS at,
                              unnest($lease) AS lease) v
                 WHERE jobs.id = v.id AND jobs.status = 'pending'"""
        with self.transaction(statements=1) as conn:
            conn.execute(sql, params)
        self.sched.mark_durable(params["ids"])

    def renew(self, jobs: Sequence[Job], lease_seconds: float) -> None:
        """Extend the leases of jobs that are still running (the Worker's heartbeat)."""
        with self.lock:
            lease = time.time() + lease_seconds
            current = [(j.id, j.attempts) for j in jobs if self.sched.owns(j.id, j.attempts)]
            if not current:
                return
            self.sched.renew(current, lease)  # the lease that counts: only this process uses the file
            durable = [(i, a) for i, a in current if self.sched.is_durable(i)]
            if durable:
                with self.transaction() as conn:
                    conn.execute(
                        """UPDATE jobs SET lease_expires_at = $lease
                           FROM (SELECT unnest($ids) AS id, unnest($att) AS att) v
                           WHERE jobs.id = v.id AND jobs.status = 'claimed' AND jobs.attempts = v.att""",
                        {"lease": lease, "ids": [c[0] for c in durable], "att": [c[1] for c in durable]},
                    )

    # -- completing -----------------------------------------------------------------------------
    def complete(self, outcomes: list[Outcome], policy: RetryPolicy | None = None, lone: bool = False) -> set[str]:
        """Record how claimed jobs ended, in one transaction. Returns the ids that were applied.

        An outcome counts only for the current claim of its job: when the lease expired and the
        job went back to the queue or to another worker, the stale outcome is ignored. Each UPDATE
        compares the row with the claim it expects (status and attempt count), so the check and the
        write are one statement.
        """
        policy = policy or RetryPolicy()
        with self.lock:
            now = time.time()
            sched = self.sched
            current = [o for o in outcomes if sched.owns(o.job_id, o.attempt)]
            done, retry, fail, release = [], [], [], []
            for o in current:
                if o.kind == "done":
                    done.append(o)
                elif o.kind == "release":
                    release.append(o)
                else:
                    of = sched.max_attempts(o.job_id)
                    last = o.kind == "fail" or o.attempt >= of
                    if o.kind in LOST:
                        o.error = LOST[o.kind][last].format(attempt=o.attempt, of=of)
                    (fail if last else retry).append(o)
            for o in done:
                o.result = self.stash_result(o.job_id, o.attempt, o.result)
            # a job whose claim was lost (not a job that failed) runs again at once
            retry_at = {o.job_id: now if o.kind in LOST else now + policy.delay(o.attempt) for o in retry}
            applied: set[str] = set()
            skipped: list[str] = []
            alive_lost: dict[str, int] = {}
            durable_release = [o for o in release if sched.is_durable(o.job_id)]
            groups = [done, retry, fail, durable_release]
            statements = sum(1 for g in groups if g) + (1 if any(sched.has_children(o.job_id) for o in fail) else 0)
            if lone and done and len(done) == len(current):  # durable when journalled
                self._writable()
                self._journal_outcomes(done, now)
                applied = {o.job_id for o in done}
                statements = 0
            if statements:
                with self.transaction(statements) as conn:
                    applied |= self._write_outcomes(conn, done, "done", now, extra={
                        "res": [o.result for o in done]})
                    applied |= self._write_outcomes(conn, retry, "pending", now, extra={
                        "after": [retry_at[o.job_id] for o in retry]})
                    applied |= self._write_outcomes(conn, fail, "failed", now)
                    applied |= self._write_outcomes(conn, durable_release, "release", now)
                    failed = [o.job_id for o in fail if o.job_id in applied]
                    skipped, alive_lost = sched.doomed_by(failed)
                    if skipped:
                        self._mark_skipped(conn, skipped, now)
            applied |= {o.job_id for o in release if not sched.is_durable(o.job_id)}
            # a large result stored for an attempt whose outcome was not taken
            self.values.remove(ref_name(o.result) for o in outcomes
                               if o.kind == "done" and is_ref(o.result) and o.job_id not in applied)
            # committed: the schedule follows
            for o in done:
                if o.job_id in applied:
                    if sched.has_children(o.job_id):
                        self._cache_result(o.job_id, o.codec, o.result)
                    self._finish(o.job_id, "done", now)
            for job_id in [o.job_id for o in fail if o.job_id in applied]:
                self._finish(job_id, "failed", now)
            for job_id in skipped:
                self._finish(job_id, "skipped", now)
            sched.lose_parents(alive_lost)
            self._old_error -= applied
            for o in retry:
                if o.job_id in applied:
                    sched.retry(o.job_id, retry_at[o.job_id], now)
            for o in release:
                if o.job_id in applied:
                    sched.release(o.job_id, now)
            self.changed.notify_all()  # wakes idle workers, and anyone waiting for a DAG to finish
            return applied

    def _write_outcomes(self, conn, outcomes: list[Outcome], kind: str, now: float, extra=None) -> set[str]:
        """One UPDATE for a group of outcomes of the same kind; returns the ids it changed.

        DuckDB's cost grows with every column an UPDATE touches, so only the columns that change
        are set: a claim that lived in memory has no lease or worker to clear.
        """
        if not outcomes:
            return set()
        durable = [self.sched.is_durable(o.job_id) for o in outcomes]
        any_durable = any(durable)
        retried = any(o.attempt > 1 or o.job_id in self._old_error for o in outcomes)
        sets: dict[str, list] = {}  # column -> one value per outcome
        if kind == "release":
            sets["attempts"] = [o.attempt - 1 for o in outcomes]
            sets["status"] = ["pending"] * len(outcomes)
        else:
            sets["attempts"] = [o.attempt for o in outcomes]
            sets["status"] = [{"done": "done", "pending": "pending", "failed": "failed"}[kind]] * len(outcomes)
        if kind == "done":
            sets["result"] = extra["res"]
            sets["completed_at"] = [now] * len(outcomes)
            if retried:
                sets["error"] = sets["traceback"] = [None] * len(outcomes)
        elif kind in ("pending", "failed"):
            sets["error"] = [o.error for o in outcomes]
            sets["traceback"] = [o.traceback for o in outcomes]
            if kind == "pending":
                sets["execute_after"] = extra["after"]
            else:
                sets["completed_at"] = [now] * len(outcomes)
        if any_durable:
            sets["lease_expires_at"] = [None] * len(outcomes)
        elif kind in ("done", "failed"):
            # a claim that lived in memory leaves its start time with the finished row (the
            # dashboard's timings and claim latency read it); a durable one wrote it already
            started = [self.sched.memory_claim(o.job_id) for o in outcomes]
            if all(claim is not None and claim[2] is not None for claim in started):
                sets["claimed_at"] = [claim[2] for claim in started]
        # what the row must still say for this claim to be current
        was = ["claimed" if d else "pending" for d in durable]
        was_att = [o.attempt if d else o.attempt - 1 for o, d in zip(outcomes, durable)]
        ids = [o.job_id for o in outcomes]
        if len(outcomes) == 1:
            assignments = ", ".join(f"{col} = ?" for col in sets)
            rows = conn.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ? AND status = ? AND attempts = ? RETURNING id",
                [v[0] for v in sets.values()] + [ids[0], was[0], was_att[0]],
            ).fetchall()
        else:
            params = {f"s{n}": values for n, values in enumerate(sets.values())}
            params.update(ids=ids, was=was, was_att=was_att)
            assignments = ", ".join(f"{col} = v.s{n}" for n, col in enumerate(sets))
            values = ", ".join(f"unnest(${name}) AS {name}" for name in params)
            rows = conn.execute(
                f"""UPDATE jobs SET {assignments} FROM (SELECT {values}) v
                    WHERE jobs.id = v.ids AND jobs.status = v.was AND jobs.attempts = v.was_att
                    RETURNING jobs.id""",
                params,
            ).fetchall()
        return {r[0] for r in rows}

    def _finish(self, job_id: str, status: str, now: float) -> None:
        """A job ended as `status` (done, failed or skipped), committed: count it, and drop it from
        the schedule (which lets its waiting children know) and the caches."""
        self._tally(self.sched.queue_of(job_id), status, 1)
        self._parent_names.pop(job_id, None)
        self._ahead.pop(job_id, None)
        self.sched.finish(job_id, status == "done", now)

    def _tally(self, queue: str | None, status: str, change: int) -> None:
        """`change` more jobs of `queue` are finished as `status` (see _finished_counts)."""
        if self._finished is not None and queue is not None:
            self._finished[queue, status] = self._finished.get((queue, status), 0) + change

    def _finished_counts(self) -> dict[tuple[str, str], int]:
        """{(queue, status): jobs} of the finished statuses (done, failed, skipped). Counted over the
        table once, the first time they are asked for, and from then on kept by _tally wherever this
        process commits a change of them: it is the only writer of the file (an import recounts). A
        read-only store sees a file that no process can change while it is open."""
        with self.lock:
            if self._finished is None:
                self._finished = {(queue, status): n for queue, status, n in self.query(
                    "SELECT queue, status, count(*) FROM jobs WHERE status IN ('done', 'failed', 'skipped') GROUP BY ALL")}
            return self._finished

    def _mark_skipped(self, conn, ids: list[str], now: float, reason: str = SKIPPED_ERROR) -> None:
        conn.execute(
            """UPDATE jobs SET status = 'skipped', completed_at = $now, error = $reason
               WHERE id = ANY($ids) AND status = 'pending'""",
            {"now": now, "ids": ids, "reason": reason},
        )

    def _cache_result(self, job_id: str, codec: str, blob: bytes | None) -> None:
        size = len(blob or b"")
        if size > _RESULT_CACHE_BYTES // 8:
            return
        self._results[job_id] = (codec, blob)
        self._results_bytes += size
        while self._results_bytes > _RESULT_CACHE_BYTES:
            _, (_, old) = self._results.popitem(last=False)
            self._results_bytes -= len(old or b"")

    # -- reading ----------------------------------------------------------------------------------
    def _job(self, row: tuple) -> Job:
        job = Job(*self._loaded(row), _store=self)
        status = JobStatus(row[5])
        claim = self.sched.memory_claim(job.id)
        if claim is not None:
            # a claim that so far lives only in memory (see claim): report what is true now
            status = JobStatus.CLAIMED
            job.attempts, job.claimed_by, job.claimed_ts = claim
        elif status is JobStatus.PENDING and row[9] > time.time():
            status = JobStatus.DELAYED
        job.status = status
        return job

    def get_job(self, job_id: str) -> Job:
        rows = self.query(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", [job_id])
        if not rows:
            raise JobNotFoundError(job_id)
        return self._job(rows[0])

    def get_jobs(self, ids: list[str]) -> list[Job]:
        rows = self.query(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ANY($ids)", {"ids": ids})
        by_id = {r[0]: r for r in rows}
        return [self._job(by_id[i]) for i in ids if i in by_id]

    def results(self, ids: list[str]) -> dict[str, tuple[str, str, bytes | None, str | None]]:
        """{id: (status, codec, result blob, error)} for these jobs, from the cache where possible."""
        out = {}
        with self.lock:
            todo = []
            for job_id in ids:
                cached = self._results.get(job_id)
                if cached is not None:
                    self._results.move_to_end(job_id)
                    out[job_id] = ("done", cached[0], cached[1], None)
                else:
                    todo.append(job_id)
            if todo:
                for job_id, status, codec, blob, error in self.query(
                    "SELECT id, status, codec, result, error FROM jobs WHERE id = ANY($ids)", {"ids": todo}
                ):
                    out[job_id] = (status, codec, blob, error)
                    if status == "done":
                        self._cache_result(job_id, codec, blob)
        return {job_id: (status, codec, self.values.get(blob), error)
                for job_id, (status, codec, blob, error) in out.items()}

    def parents(self, child_ids: list[str]) -> dict[str, list[tuple[str, str | None]]]:
        """{child id: [(parent id, parent node name), ...]} in declaration order."""
        out: dict[str, list[tuple[str, str | None]]] = {c: [] for c in child_ids}
        for child, parent, name in self.query(
            """SELECT d.child_id, d.parent_id, p.node_name FROM job_dependencies d
               LEFT JOIN jobs p ON p.id = d.parent_id
               WHERE d.child_id = ANY($ids) ORDER BY d.child_id, d.position""",
            {"ids": child_ids},
        ):
            out[child].append((parent, name))
        return out

    def dag_started(self, dag_run_id: str) -> bool:
        return self.query("SELECT count(*) FROM jobs WHERE dag_run_id = ? AND attempts > 0", [dag_run_id])[0][0] > 0

    def waiting(self, queue: str, at_most: int) -> int:
        with self.lock:  # from the in-memory schedule: no statement
            return self.sched.waiting(queue, at_most)

    def statuses(self, ids: list[str]) -> dict[str, str]:
        return dict(self.query("SELECT id, status FROM jobs WHERE id = ANY($ids)", {"ids": ids}))

    def read_connection(self) -> duckdb.DuckDBPyConnection:
        # a cursor is a connection of its own to the same database; enqueues still in the journal
        # are written first, so that it sees every job
        with self.lock:
            if self._closed:
                raise QueuackError(f"the queue on {self.path} is closed")
            self._flush_journal()
            schema = self.conn.execute("SELECT current_schema()").fetchone()[0]
            reader = self.conn.cursor()
            reader.execute(f"SET schema = '{schema}'")  # unqualified names resolve as for the store
            return reader

    def dag_run(self, dag_run_id: str) -> tuple[str, str | None, bool] | None:
        rows = self.query("SELECT name, parent_job_id, cancelled_at IS NOT NULL FROM dag_runs WHERE id = ?",
                          [dag_run_id])
        return rows[0] if rows else None

    def link_subdag(self, dag_run_id: str, parent_job_id: str) -> None:
        with self.transaction(1) as conn:
            conn.execute("UPDATE dag_runs SET parent_job_id = ? WHERE id = ?", [parent_job_id, dag_run_id])

    def subdag_runs(self, parent_job_ids: list[str]) -> dict[str, str]:
        rows = self.query("""SELECT parent_job_id, arg_max(id, created_at) FROM dag_runs
                             WHERE parent_job_id = ANY($ids) GROUP BY parent_job_id""", {"ids": parent_job_ids})
        return dict(rows)

    def cancel_run(self, dag_run_id: str) -> int:
        with self.lock:
            sched = self.sched
            unclaimed = [r[0] for r in self.query("SELECT id FROM jobs WHERE dag_run_id = ? AND status = 'pending'",
                                                  [dag_run_id]) if r[0] in sched and not sched.is_claimed(r[0])]
            doomed, alive_lost = sched.doomed_by(unclaimed)  # dependents outside the run
            skipped = list(dict.fromkeys(unclaimed + doomed))
            now = time.time()
            with self.transaction() as conn:
                conn.execute("UPDATE dag_runs SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL",
                             [now, dag_run_id])
                if skipped:
                    self._mark_skipped(conn, skipped, now, "skipped: its DAG run was cancelled")
            for job_id in skipped:
                self._finish(job_id, "skipped", now)
            sched.lose_parents({c: n for c, n in alive_lost.items() if c not in set(skipped)})
            self.changed.notify_all()
            return len(skipped)

    def existing(self, ids: Iterable[str]) -> set[str]:
        return {r[0] for r in self.query("SELECT id FROM jobs WHERE id = ANY($ids)", {"ids": sorted(set(ids))})}

    def dag_nodes(self, dag_run_id: str) -> list[tuple[str, str, str]]:
        with self.lock:
            rows = self.query("SELECT id, node_name, status FROM jobs WHERE dag_run_id = ? ORDER BY seq",
                              [dag_run_id])
            # a claim that so far lives only in memory is reported as claimed, as get_job does
            return [(i, n, "claimed" if s == "pending" and self.sched.memory_claim(i) is not None else s)
                    for i, n, s in rows]

    def dead_letters(self, limit: int) -> list[Job]:
        rows = self.query(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE status = 'failed' ORDER BY completed_at DESC LIMIT ?", [limit]
        )
        return [self._job(r) for r in rows]

    # -- the dashboard --------------------------------------------------------------------------------
    def _shown_status(self, row: dict) -> dict:
        # a claim that so far lives only in memory is reported as claimed, as get_job does
        if row["status"] in ("pending", "delayed") and self.sched.memory_claim(row["id"]) is not None:
            row["status"] = "claimed"
        return row

    def counts(self) -> dict[str, dict[str, int]]:
        """The finished jobs from _finished_counts, the unfinished ones from the schedule (which
        knows every claim, delay and parent; a read-only store has none, and scans those rows)."""
        now = time.time()
        with self.lock:  # the rows and the in-memory claims, seen at the same moment
            finished = [(queue, status, n) for (queue, status), n in self._finished_counts().items()]
            if self.read_only:
                return counted(finished + self.query(
                    """SELECT queue, CASE WHEN status = 'claimed' THEN 'claimed' WHEN execute_after > $now
                                          THEN 'delayed' ELSE 'pending' END, count(*)
                       FROM jobs WHERE status IN ('pending', 'claimed') GROUP BY ALL""", {"now": now}))
            return counted(finished + self.sched.counts(now))

    def overview(self) -> Overview:
        now = time.time()
        with self.lock:
            counts = self.counts()
            (done, failed), = self.query(
                """SELECT count(*) FILTER (status = 'done'), count(*) FILTER (status = 'failed') FROM jobs
                   WHERE completed_at > $since""", {"since": now - THROUGHPUT_WINDOW})
            first = self.sched.first_ready(now)
            if first is not None:
                oldest = self.query("SELECT id, created_at FROM jobs WHERE id = ?", [first])
            else:  # nothing ready, or a read-only store (no schedule): the rows say
                oldest = self.query("""SELECT id, created_at FROM jobs WHERE status = 'pending' AND execute_after <= $now
                                       ORDER BY priority DESC, seq LIMIT 1""", {"now": now}) if self.read_only else []
        return Overview(counts, done, failed, oldest[0] if oldest else None)

    def _listed_rows(self, where: JobFilter, before_seq: int | None, limit: int) -> list[dict]:
        sql, params = listing_query("jobs", where, before_seq, limit, "${}", claims_in_memory=True)
        with self.lock:
            rows = [self._shown_status(listed(r)) for r in self.query(sql, params)]
        if where.status is not None:
            rows = [r for r in rows if r["status"] == where.status]
        return rows

    def list_runs(self, before: float | None = None, limit: int = 50) -> list[RunSummary]:
        rows = self.query(
            """WITH page AS (SELECT id, name, created_at, cancelled_at FROM dag_runs
                             WHERE $before IS NULL OR created_at < $before ORDER BY created_at DESC LIMIT $limit)
               SELECT p.id, p.name, p.created_at, p.cancelled_at IS NOT NULL, j.status, count(j.id)
               FROM page p LEFT JOIN jobs j ON j.dag_run_id = p.id
               GROUP BY ALL ORDER BY p.created_at DESC, p.id""", {"before": before, "limit": limit})
        return count_runs(rows)

    def run_graph(self, dag_run_id: str) -> RunGraph | None:
        with self.lock:
            runs = count_runs(self.query(
                """SELECT r.id, r.name, r.created_at, r.cancelled_at IS NOT NULL, j.status, count(j.id)
                   FROM dag_runs r LEFT JOIN jobs j ON j.dag_run_id = r.id WHERE r.id = ? GROUP BY ALL""",
                [dag_run_id]))
            if not runs:
                return None
            nodes = [self._shown_status(listed(r)) for r in self.query(
                f"SELECT {LISTED_COLUMNS} FROM jobs WHERE dag_run_id = ? ORDER BY seq", [dag_run_id])]
            edges = self.query("""SELECT d.child_id, d.parent_id FROM job_dependencies d JOIN jobs c ON c.id = d.child_id
                                  WHERE c.dag_run_id = ? ORDER BY c.seq, d.position""", [dag_run_id])
        return RunGraph(runs[0], nodes, edges)

    def _run_facts(self) -> RunFacts:
        with self.lock:  # the rows and the in-memory claims, seen at the same moment
            (runs, cancelled), = self.query("SELECT count(*), count(cancelled_at) FROM dag_runs")
            failed = {r[0] for r in self.query(
                """SELECT DISTINCT j.dag_run_id FROM jobs j JOIN dag_runs r ON r.id = j.dag_run_id
                   WHERE j.status = 'failed' AND r.cancelled_at IS NULL""")}
            rows = self.query(
                """WITH u AS (SELECT j.dag_run_id, count(*) AS n,
                                     count(*) FILTER (j.status = 'claimed' OR list_contains($memory, j.id)) AS claimed
                              FROM jobs j JOIN dag_runs r ON r.id = j.dag_run_id
                              WHERE j.status IN ('pending', 'claimed') AND r.cancelled_at IS NULL GROUP BY ALL)
                   SELECT u.dag_run_id, any_value(u.n), any_value(u.claimed), count(*)
                   FROM u JOIN jobs a ON a.dag_run_id = u.dag_run_id GROUP BY 1""",
                {"memory": [c[0] for c in self.sched.memory_claims()]})
        return RunFacts(runs, cancelled, failed, {r[0]: tuple(r[1:]) for r in rows})

    def claim_latency(self, window: float) -> tuple[int, float]:
        (count, total), = self.query(
            """SELECT count(*), coalesce(sum(claimed_at - greatest(created_at, execute_after)), 0) FROM jobs
               WHERE completed_at > ? AND status IN ('done', 'failed')""", [time.time() - window])
        return count, total

    # -- maintenance --------------------------------------------------------------------------------
    def retry_failed(self, job_id: str) -> list[str]:
        """Give a dead letter a fresh set of attempts; the descendants skipped because of it come
        back as pending (see scheduler.resumable). Returns their ids."""
        with self.lock:
            rows = self.query("SELECT status, queue, priority, seq, dependency_mode, max_attempts FROM jobs WHERE id = ?",
                              [job_id])
            if not rows:
                raise JobNotFoundError(job_id)
            status, queue, priority, seq, mode, max_attempts = rows[0]
            if status != "failed":
                raise NotADeadLetterError(job_id, status)
            descendants = {r[0]: r[1:] for r in self.query(
                f"""WITH RECURSIVE d(id) AS (
                        SELECT child_id FROM job_dependencies WHERE parent_id = $id
                        UNION SELECT e.child_id FROM job_dependencies e JOIN d ON e.parent_id = d.id)
                    SELECT id, CASE WHEN status = 'skipped' AND error = $why THEN 'skipped' ELSE status || '!' END,
                           dependency_mode, queue, priority, seq, max_attempts
                    FROM jobs WHERE id IN (SELECT id FROM d)""", {"id": job_id, "why": SKIPPED_ERROR})}
            parents = self._parent_statuses(list(descendants))
            back = resumable(job_id, {i: (s, m, parents.get(i, [])) for i, (s, m, *_) in descendants.items()})
            now = time.time()
            with self.transaction() as conn:
                conn.execute(
                    """UPDATE jobs SET status = 'pending', attempts = 0, execute_after = $now, completed_at = NULL,
                           claimed_by = NULL, error = CASE WHEN id = $id THEN error END
                       WHERE id = $id OR (id = ANY($back) AND status = 'skipped')""",
                    {"now": now, "id": job_id, "back": back})
            self.sched.add(job_id, queue, priority, seq, now, mode, max_attempts, now)
            self._tally(queue, "failed", -1)
            pending = {job_id, *back}
            for child, rows in self.parents([job_id, *back]).items():  # claims know them again
                if rows:
                    self._parent_names[child] = rows
            for child in back:  # parents first
                _, child_mode, child_queue, child_priority, child_seq, child_max = descendants[child]
                self._tally(child_queue, "skipped", -1)
                statuses = [(p, "pending" if p in pending else s) for p, s in parents.get(child, [])]
                waiting_on, satisfied, _ = gate(child_mode, statuses)
                self.sched.add(child, child_queue, child_priority, child_seq, now, child_mode, child_max, now,
                               waiting_on, satisfied)
            for child, (own, *_) in descendants.items():  # "any" children that kept waiting
                if own == "pending!":
                    for parent, _ in parents.get(child, []):
                        if parent in pending:
                            self.sched.regain_parent(parent, child)
            self.changed.notify_all()
            return back

    def _parent_statuses(self, child_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
        """{child id: [(parent id, parent status), ...]}."""
        found: dict[str, list[tuple[str, str]]] = {}
        for child, parent, status in self.query(
                """SELECT d.child_id, d.parent_id, p.status FROM job_dependencies d JOIN jobs p ON p.id = d.parent_id
                   WHERE d.child_id = ANY($ids) ORDER BY d.child_id, d.position""", {"ids": child_ids}):
            found.setdefault(child, []).append((parent, status))
        return found

    # -- moving a queue (queuack copy) --------------------------------------------------------------
    def export_rows(self) -> Snapshot:
        with self.lock:
            claimed = dict(self.sched.claimed())  # claims that may so far live only in memory
            columns = [c.strip() for c in COPY_COLUMNS.split(",")]
            at = columns.index("attempts")
            jobs = []
            for row in self.query(f"SELECT {COPY_COLUMNS} FROM jobs ORDER BY seq"):
                if row[2] == "claimed" or row[0] in claimed:
                    row = row[:2] + ("pending",) + row[3:at] + (claimed.get(row[0], row[at]),) + row[at + 1:]
                jobs.append(self._copied_values(row, columns, lambda blob, name: self.values.get(blob)))
            edges = self.query("SELECT child_id, parent_id, position FROM job_dependencies ORDER BY child_id, position")
            runs = self.query(f"SELECT {RUN_COLUMNS} FROM dag_runs ORDER BY created_at")
        return Snapshot(jobs, edges, runs)

    def _copied_values(self, row: tuple, columns: list[str], convert) -> tuple:
        """A COPY_COLUMNS row with convert(blob, file name) applied to the values that may be large:
        a copy carries the values themselves, and each backend stores them its own way."""
        row = list(row)
        job_id, attempts = row[0], row[columns.index("attempts")]
        for column, name in (("func", f"{job_id}.func"), ("args", f"{job_id}.args"),
                             ("kwargs", f"{job_id}.kwargs"), ("result", f"{job_id}.{attempts}.result")):
            i = columns.index(column)
            row[i] = convert(row[i], name)
        return tuple(row)

    def import_rows(self, snapshot: Snapshot) -> None:
        with self.lock:
            columns = [c.strip() for c in COPY_COLUMNS.split(",")]
            jobs = [self._copied_values(row, columns, lambda blob, name: self._stash(name, blob))
                    for row in snapshot.jobs]
            with self.transaction() as conn:
                for table, columns, rows in (("job_dependencies", "child_id, parent_id, position", snapshot.edges),
                                             ("jobs", COPY_COLUMNS, jobs),
                                             ("dag_runs", RUN_COLUMNS, snapshot.runs)):
                    if rows:
                        width = len(rows[0])
                        values = "SELECT " + ", ".join(f"unnest($c{i}) AS c{i}" for i in range(width))
                        if table == "job_dependencies":  # no key: skip the edges of jobs already stored
                            values = f"SELECT * FROM ({values}) WHERE c0 NOT IN (SELECT id FROM jobs)"
                        verb = "INSERT" if table == "job_dependencies" else "INSERT OR IGNORE"
                        conn.execute(f"{verb} INTO {table} ({columns}) {values}",
                                     {f"c{i}": [r[i] for r in rows] for i in range(width)})
            # the schedule is derived from the rows, as when the file is opened, and the counts too
            self.sched = Scheduler()
            self._finished = None
            self._parent_names.clear()
            self._load()
            self.changed.notify_all()

    def purge(self, queue: str | None, statuses: Sequence[str], before: float) -> int:
        """Delete finished jobs that completed before `before`, with their edges, and DAG runs left empty.
        A job that an unfinished job still depends on is kept."""
        with self.lock:
            with self.transaction() as conn:
                params = {"st": list(statuses), "before": before}
                queue_filter = ""
                if queue is not None:
                    queue_filter = "AND queue = $q"
                    params["q"] = queue
                conn.execute(
                    f"""CREATE OR REPLACE TEMP TABLE purge_ids AS
                        SELECT id FROM jobs j WHERE status = ANY($st) AND completed_at < $before {queue_filter}
                        AND NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs c ON c.id = d.child_id
                                        WHERE d.parent_id = j.id AND c.status IN ('pending', 'claimed'))""",
                    params,
                )
                purged = [r[0] for r in conn.execute("SELECT id FROM purge_ids").fetchall()]
                gone = conn.execute("SELECT queue, status, count(*) FROM jobs WHERE id IN (SELECT id FROM purge_ids) "
                                    "GROUP BY ALL").fetchall()
                conn.execute("DELETE FROM job_dependencies WHERE child_id IN (SELECT id FROM purge_ids) "
                             "OR parent_id IN (SELECT id FROM purge_ids)")
                conn.execute("DELETE FROM jobs WHERE id IN (SELECT id FROM purge_ids)")
                conn.execute("DELETE FROM dag_runs WHERE id NOT IN (SELECT DISTINCT dag_run_id FROM jobs "
                             "WHERE dag_run_id IS NOT NULL)")
                conn.execute("DROP TABLE purge_ids")
            for queue, status, n in gone:
                self._tally(queue, status, -n)
            self.values.remove_job(purged)
            self._results.clear()
            self._results_bytes = 0
            return len(purged)
