"""The seam between the runtime and its storage: what DuckQueue, Worker, DAG, TaskContext and the
CLI ask of a backend, and the records they exchange with it.

Two backends implement it: `store.Store` (DuckDB, a file owned by one process, or memory) and
`postgres.PostgresBackend` (a server shared by any number of processes and hosts). Each keeps
every SQL statement of its database inside itself; nothing outside a backend runs SQL.

`open_backend(location)` picks one from the string a user gives DuckQueue: a `postgresql://` or
`postgres://` URL selects PostgreSQL (libpq fills what the URL leaves out from its environment
variables and service file), anything else is a DuckDB path or ":memory:".

Decisions:
- Jobs travel as rows in JOB_COLUMNS order, so one Job constructor serves every backend.
- Outcomes are applied only to the claim they belong to (job id and attempt, and on PostgreSQL the
  claim's token, which the Job and its Outcome carry as `_claim`/`claim`): a stale outcome, whose
  lease expired and whose job went to another worker, changes nothing on any backend.
- A backend is shared and reference-counted inside a process (retain/release), so that a task's
  `context.queue` or a second DuckQueue on the same location sees the same data.
"""

from __future__ import annotations

import abc
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from .errors import QueuackError
from .jobs import Job, JobStatus

MEMORY = ":memory:"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

# Column order shared by every SELECT that builds a Job (see Job's field order).
JOB_COLUMNS = (
    "id, func, args, kwargs, queue, status, priority, codec, created_at, execute_after, claimed_at, "
    "completed_at, claimed_by, attempts, max_attempts, timeout_seconds, result, error, traceback, "
    "node_name, dag_run_id, dependency_mode"
)

# What `queuack copy` moves: every stored column of a job except its lease (see Snapshot).
COPY_COLUMNS = (
    "id, queue, status, priority, seq, codec, func, args, kwargs, created_at, execute_after, attempts, "
    "max_attempts, timeout_seconds, claimed_by, claimed_at, completed_at, result, error, traceback, node_name, "
    "dag_run_id, dependency_mode"
)
RUN_COLUMNS = "id, name, created_at, parent_job_id, cancelled_at"

# What the dashboard lists of a job (no arguments or result: those are read one job at a time).
LISTED_COLUMNS = (
    "id, queue, status, priority, codec, func, created_at, execute_after, claimed_at, completed_at, "
    "attempts, max_attempts, node_name, dag_run_id, error, seq"
)
# Finished jobs completed within this many seconds make the overview's throughput.
THROUGHPUT_WINDOW = 300.0

SKIPPED_ERROR = "skipped: a job it depends on failed or was skipped"

# Outcomes the queue records itself when a claim is lost: (message when the job runs again,
# message when that was its last attempt).
LOST = {
    "expired": ("lease expired on attempt {attempt}: the job runs again",
                "lease expired on attempt {attempt} of {of}: the worker died, hung, or did not acknowledge in time"),
    "abandoned": ("the process running it ended before it finished (attempt {attempt})",
                  "the process running its last attempt ended before it finished"),
}


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: base * 2**(attempt-1), capped, times a random factor in [1-jitter, 1+jitter]."""

    base: float = 1.0
    maximum: float = 300.0
    jitter: float = 0.25

    def delay(self, attempt: int) -> float:
        if self.base <= 0:
            return 0.0
        delay = min(self.maximum, self.base * (2 ** max(0, attempt - 1)))
        return delay * random.uniform(1 - self.jitter, 1 + self.jitter)


@dataclass
class NewJob:
    """A job about to be inserted; `parents` are job ids in declaration order."""

    id: str
    queue: str
    priority: int
    codec: str
    func: bytes
    args: bytes
    kwargs: bytes
    execute_after: float
    max_attempts: int
    timeout_seconds: float | None
    node_name: str | None = None
    dag_run_id: str | None = None
    dependency_mode: str = "all"
    parents: Sequence[str] = ()


@dataclass
class Outcome:
    """How a claimed job ended. kind: done | error (retry or fail) | fail | release, or, recorded
    by the queue itself: expired (the lease ran out) | abandoned (its process ended)."""

    job_id: str
    attempt: int
    kind: str
    result: bytes | None = None
    codec: str = "pickle"
    error: str | None = None
    traceback: str | None = None
    claim: Any = None  # the backend's handle of the claim (Job._claim), None: the job's current claim

    @classmethod
    def of(cls, job: Job, kind: str, **fields) -> "Outcome":
        """How this claim of `job` ended."""
        return cls(job.id, job.attempts, kind, claim=job._claim, **fields)


# Guards the reference counts of every backend and the registries that share them in a process.
registry_lock = threading.Lock()


@dataclass
class Snapshot:
    """A queue's whole content, for `queuack copy`: jobs as COPY_COLUMNS rows, edges as (child id,
    parent id, position), DAG runs as RUN_COLUMNS rows. A job that was claimed is exported as
    pending, its attempt counted if it had started (as its worker's death would count it): its
    worker belongs to the source."""

    jobs: list[tuple]
    edges: list[tuple]
    runs: list[tuple]


class Backend(abc.ABC):
    """What the runtime needs from storage. `path` names the location (never with a password);
    `changed` is a Condition notified when work may have become claimable or a job finished.

    A subclass registers open backends in its `_registry` under `_key`, so that opening the same
    location again shares them; the last release() unregisters and shuts down."""

    path: str
    changed: threading.Condition
    _registry: dict
    _key: object = None
    _refs = 0
    _closed = False

    # -- lifetime
    def retain(self) -> "Backend":
        """One more user of this backend (a DuckQueue handle)."""
        from .errors import QueuackError

        with registry_lock:
            if self._closed:
                raise QueuackError(f"the queue on {self.path} is closed")
            self._refs += 1
        return self

    def release(self) -> None:
        """Drop one reference; the last one closes the backend."""
        with registry_lock:
            self._refs -= 1
            if self._refs > 0:
                return
            if self._key is not None and self._registry.get(self._key) is self:
                del self._registry[self._key]
        self._shutdown()

    @abc.abstractmethod
    def _shutdown(self) -> None:
        """Close connections and files, and wake whoever waits on `changed`."""

    @property
    def closed(self) -> bool:
        return self._closed

    # -- writing
    @abc.abstractmethod
    def insert(self, jobs: list[NewJob], dag_run: tuple[str, str] | None = None) -> None:
        """Store jobs (parents before children), their edges and a DAG run, all or nothing.
        A parent outside the batch must exist: DAGValidationError names the missing ids."""

    @abc.abstractmethod
    def claim(self, queues: Sequence[str] | None, count: int, worker_id: str, lease_seconds: float,
              only: set[str] | None = None, durable: bool = True) -> list[Job]:
        """Up to `count` ready jobs of these queues (in this order; None: all, by priority), leased
        for lease_seconds. durable=False lets a backend keep the claim in memory until the outcome."""

    @abc.abstractmethod
    def complete(self, outcomes: list[Outcome], policy: RetryPolicy | None = None, lone: bool = False) -> set[str]:
        """Record outcomes in one transaction, children made ready or skipped with them; returns
        the ids applied. lone=True: a user's own ack of one job, which a backend may make durable
        by a cheaper way than a transaction of its own (DuckDB files: the outcome journal)."""

    def job_started(self, job: Job) -> None:
        """The Worker is about to run this job, claimed with durable=False. The backend notes it
        where the death of the process cannot erase it, so that a job that takes its process down
        is charged its attempt, and the jobs prefetched with it are not."""

    def job_finished(self, job: Job) -> None:
        """The job's function returned (its outcome is about to be recorded)."""

    @abc.abstractmethod
    def renew(self, jobs: Sequence[Job], lease_seconds: float) -> None:
        """Extend the leases of the claims these jobs were read with, where still current."""

    @abc.abstractmethod
    def retry_failed(self, job_id: str) -> list[str]:
        """A dead letter back to pending with a fresh set of attempts, in one transaction with the
        descendants skipped because of it (scheduler.resumable); returns the ids of those."""

    @abc.abstractmethod
    def purge(self, queue: str | None, statuses: Sequence[str], before: float) -> int: ...

    # -- waiting
    @abc.abstractmethod
    def next_wakeup(self) -> float | None:
        """When time alone will make work claimable (a delay ends, a lease runs out), or None."""

    @abc.abstractmethod
    def wait_for_work(self, timeout: float) -> None: ...

    # -- reading
    @abc.abstractmethod
    def get_job(self, job_id: str) -> Job: ...

    @abc.abstractmethod
    def get_jobs(self, ids: list[str]) -> list[Job]: ...

    @abc.abstractmethod
    def existing(self, ids: Iterable[str]) -> set[str]:
        """Which of these job ids are stored."""

    @abc.abstractmethod
    def unfinished(self, ids: Iterable[str]) -> int:
        """How many of these jobs are pending or claimed."""

    @abc.abstractmethod
    def results(self, ids: list[str]) -> dict[str, tuple[str, str, bytes | None, str | None]]:
        """{id: (status, codec, result blob, error)}."""

    @abc.abstractmethod
    def parents(self, child_ids: list[str]) -> dict[str, list[tuple[str, str | None]]]:
        """{child id: [(parent id, parent node name), ...]} in declaration order."""

    def stash_result(self, job_id: str, attempt: int, blob: bytes | None) -> bytes | None:
        """Called by the Worker as soon as a job returns: a backend that keeps large results apart
        stores this one now and returns what its outcome should carry instead."""
        return blob

    @abc.abstractmethod
    def counts(self) -> dict[str, dict[str, int]]:
        """{queue: {status: jobs}} with every JobStatus value, for the queues that hold jobs. Kept
        up to date by the backend as jobs change (see each backend's docstring), never by counting
        every stored job: a queue with a million finished jobs answers as fast as an empty one."""

    def stats(self, queue: str | None = None) -> dict[str, int]:
        totals = {s.value: 0 for s in JobStatus}
        for name, by_status in self.counts().items():
            if queue is None or name == queue:
                for status, n in by_status.items():
                    totals[status] += n
        return totals

    def queue_names(self) -> list[str]:
        """The queues that hold jobs, sorted."""
        return sorted(self.counts())

    @abc.abstractmethod
    def dag_nodes(self, dag_run_id: str) -> list[tuple[str, str, str]]:
        """(id, node name, status) of a DAG run's jobs, in insertion order."""

    def dag_counts(self, dag_run_id: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, _, status in self.dag_nodes(dag_run_id):
            counts[status] = counts.get(status, 0) + 1
        return counts

    @abc.abstractmethod
    def dag_started(self, dag_run_id: str) -> bool:
        """Whether any job of the run has been attempted (a job waiting for its retry included)."""

    @abc.abstractmethod
    def dag_run(self, dag_run_id: str) -> tuple[str, str | None, bool] | None:
        """(name, id of the job that ran it as a sub-DAG or None, cancelled?); None for an unknown id."""

    @abc.abstractmethod
    def link_subdag(self, dag_run_id: str, parent_job_id: str) -> None:
        """Record that this run is the sub-DAG of that job."""

    @abc.abstractmethod
    def subdag_runs(self, parent_job_ids: list[str]) -> dict[str, str]:
        """{job id: the latest run it started as its sub-DAG}, for the jobs that started one."""

    @abc.abstractmethod
    def cancel_run(self, dag_run_id: str) -> int:
        """Mark the run cancelled and skip its jobs that are not running, with what depends on them,
        in one transaction; running jobs finish. Returns how many jobs were skipped."""

    def statuses(self, ids: list[str]) -> dict[str, str]:
        """{job id: status} for the jobs that exist, without their payloads or results."""
        return {job.id: job.status.value for job in self.get_jobs(ids)}

    def read_connection(self):
        """A DuckDB connection to the backend's own database, for reading (DuckQueue.conn)."""
        raise QueuackError(f"{self.path} is not a DuckDB database: DuckQueue.conn exists only for DuckDB queues; "
                           "use the queue's methods (stats, get_job, list_dead_letters) instead")

    def waiting(self, queue: str, at_most: int) -> int:
        """Jobs of `queue` not claimed yet (pending or delayed, whether or not their parents are
        done), for backpressure. A backend may stop counting at `at_most`."""
        counts = self.stats(queue)
        return min(at_most, counts["pending"] + counts["delayed"])

    @abc.abstractmethod
    def dead_letters(self, limit: int) -> list[Job]: ...

    # -- the dashboard (queuack ui): bounded reads, each one statement or two
    @abc.abstractmethod
    def overview(self) -> Overview: ...

    @abc.abstractmethod
    def _listed_rows(self, where: JobFilter, before_seq: int | None, limit: int) -> list[dict]:
        """Up to `limit` jobs matching queue, status and DAG run (not function), newest first
        (descending seq), with seq below before_seq; listed() dicts."""

    def list_jobs(self, where: JobFilter, before_seq: int | None = None, limit: int = 50) -> list[dict]:
        """A page of jobs, newest first; the next page starts before the last one's seq (keyset
        pagination: no OFFSET, so a deep page costs what the first does). A function filter is
        applied to the decoded names of pages read in turn, and gives up after 20 pages' worth."""
        if where.function is None:
            return self._listed_rows(where, before_seq, limit)
        found: list[dict] = []
        for _ in range(20):
            rows = self._listed_rows(where, before_seq, limit * 5)
            found += [r for r in rows if where.function in (r["function"], r["node_name"])]
            if len(found) >= limit or len(rows) < limit * 5:
                break
            before_seq = rows[-1]["seq"]
        return found[:limit]

    @abc.abstractmethod
    def list_runs(self, before: float | None = None, limit: int = 50) -> list[RunSummary]:
        """DAG runs newest first, created before `before` (keyset pagination on created_at)."""

    @abc.abstractmethod
    def run_graph(self, dag_run_id: str) -> RunGraph | None:
        """A DAG run's nodes and edges; None for an unknown run."""

    @abc.abstractmethod
    def _run_facts(self) -> RunFacts:
        """What run_status_counts derives the statuses from, read in one consistent view."""

    def run_status_counts(self) -> dict[str, int]:
        """{run status: how many DAG runs have it} (see RunSummary.status), without counting the jobs
        of every run: a run with no unfinished job keeps its status (done, failed or cancelled) until
        one of its jobs is retried, so only the runs with unfinished or failed jobs are looked at."""
        facts = self._run_facts()
        counts = {"cancelled": facts.cancelled, "failed": len(facts.failed)}
        for run_id, (unfinished, claimed, size) in facts.unfinished.items():
            if run_id not in facts.failed:
                status = "pending" if not claimed and unfinished == size else "running"
                counts[status] = counts.get(status, 0) + 1
        counts["done"] = facts.runs - sum(counts.values())
        return {status: n for status, n in counts.items() if n}

    @abc.abstractmethod
    def claim_latency(self, window: float) -> tuple[int, float]:
        """(how many, total seconds) from ready (created or due) to claimed, over the jobs that
        finished (done, or failed for good) in the last `window` seconds: their last attempt's wait."""

    # -- moving a queue between backends
    @abc.abstractmethod
    def export_rows(self) -> Snapshot:
        """Everything stored, read in one consistent view."""

    @abc.abstractmethod
    def import_rows(self, snapshot: Snapshot) -> None:
        """Add a snapshot's rows in one transaction (ids already stored are kept as they are) and
        make its unfinished jobs claimable as their parents allow. For a queue no worker is using."""


@dataclass
class JobFilter:
    """Which jobs a listing shows; None: any. `function` is 'module.qualname' (or its node name)."""

    queue: str | None = None
    status: str | None = None
    dag_run_id: str | None = None
    function: str | None = None


@dataclass
class Overview:
    """The dashboard's front page: counts[queue][status], jobs done and failed within the last
    THROUGHPUT_WINDOW seconds, and the oldest job waiting to run (id, created_at) or None."""

    counts: dict[str, dict[str, int]]
    done_recently: int
    failed_recently: int
    oldest_pending: tuple[str, float] | None


@dataclass
class RunSummary:
    """A DAG run with its jobs counted by status."""

    id: str
    name: str
    created_at: float
    cancelled: bool
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        return sum(self.counts.get(s, 0) for s in ("done", "failed", "skipped"))

    @property
    def status(self) -> str:
        """cancelled | failed (a job failed for good) | running | pending | done (every job ended)."""
        if self.cancelled:
            return "cancelled"
        if self.counts.get("failed"):
            return "failed"
        if self.finished == self.total:
            return "done"
        if self.counts.get("claimed") or self.finished:
            return "running"
        return "pending"


@dataclass
class RunFacts:
    """DAG runs as run_status_counts needs them: how many there are and how many are cancelled; the
    ids of the runs (not cancelled) with a failed job; and of the runs (not cancelled) with
    unfinished jobs, {run id: (unfinished jobs, claimed jobs, all its jobs)}."""

    runs: int
    cancelled: int
    failed: set[str]
    unfinished: dict[str, tuple[int, int, int]]


@dataclass
class RunGraph:
    """A DAG run's nodes (LISTED_COLUMNS rows as dicts, in insertion order) and its edges
    (child id, parent id)."""

    run: RunSummary
    nodes: list[dict]
    edges: list[tuple[str, str]]


def listing_query(table: str, where: JobFilter, before_seq: int | None, limit: int,
                  placeholder: str, claims_in_memory: bool = False) -> tuple[str, dict]:
    """The SELECT of a page of jobs (newest first) and its named parameters; placeholder is the
    driver's form of a named parameter, with {} for the name ("${}" or "%({})s").
    claims_in_memory: pending rows may be claimed (the caller reports and filters them)."""
    status = {"delayed": "pending", "claimed": None if claims_in_memory else "claimed"}.get(where.status, where.status)
    conditions, params = [], {"limit": limit, "now": time.time()}
    for column, value in (("queue", where.queue), ("status", status), ("dag_run_id", where.dag_run_id)):
        if value is not None:
            conditions.append(f"{column} = {placeholder.format(column)}")
            params[column] = value
    if where.status == "delayed":
        conditions.append(f"execute_after > {placeholder.format('now')}")
    elif where.status == "pending":
        conditions.append(f"execute_after <= {placeholder.format('now')}")
    elif where.status == "claimed" and claims_in_memory:
        conditions.append("status IN ('claimed', 'pending')")
    if before_seq is not None:
        conditions.append(f"seq < {placeholder.format('before')}")
        params["before"] = before_seq
    sql = (f"SELECT {LISTED_COLUMNS} FROM {table} {'WHERE ' + ' AND '.join(conditions) if conditions else ''} "
           f"ORDER BY seq DESC LIMIT {placeholder.format('limit')}")
    return sql, {k: v for k, v in params.items() if placeholder.format(k) in sql}


def listed(row: tuple, status: str | None = None) -> dict:
    """A LISTED_COLUMNS row as a dict, with its function's name read without unpickling."""
    from .serialization import function_name

    job = dict(zip((c.strip() for c in LISTED_COLUMNS.split(",")), row))
    job["function"] = function_name(job.pop("func"), job["codec"])
    if status is not None:
        job["status"] = status
    elif job["status"] == "pending" and job["execute_after"] > time.time():
        job["status"] = "delayed"
    return job


def count_runs(rows: Iterable[tuple]) -> list[RunSummary]:
    """RunSummary objects from (id, name, created_at, cancelled, status, count) rows, in row order;
    status is None for a run without jobs."""
    runs: dict[str, RunSummary] = {}
    for run_id, name, created_at, cancelled, status, count in rows:
        run = runs.setdefault(run_id, RunSummary(run_id, name, created_at, bool(cancelled), {}))
        if status is not None:
            run.counts[status] = run.counts.get(status, 0) + count
    return list(runs.values())


def counted(rows: Iterable[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    """{queue: {status: jobs}} from (queue, status, jobs) rows, where a pair may come more than once
    (summed); every JobStatus value is present, and a queue whose counts are all zero is left out."""
    counts: dict[str, dict[str, int]] = {}
    for queue, status, n in rows:
        by_status = counts.setdefault(queue, {s.value: 0 for s in JobStatus})
        by_status[status] += int(n)
    return {queue: by_status for queue, by_status in counts.items() if any(by_status.values())}


def is_postgres_url(location: str) -> bool:
    return str(location).startswith(POSTGRES_SCHEMES)


def open_backend(location: str, read_only: bool = False) -> Backend:
    """The backend for a DuckQueue location: a PostgreSQL URL, a DuckDB file, or ":memory:".
    read_only: nothing is created or written on opening (a database without a queue is refused)."""
    if is_postgres_url(location):
        from .postgres import PostgresBackend

        return PostgresBackend.open(location, read_only)
    from .store import Store

    return Store.open(location, read_only)
