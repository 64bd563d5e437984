"""The PostgreSQL backend: one queue shared by any number of processes and hosts (psycopg 3).

There is no owner process, so nothing is scheduled in memory: readiness is a column (`remaining`,
the parents not done yet), decremented in the statement that completes a parent; a claim is one
`UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n) RETURNING ...`, so workers never
claim the same job nor wait on each other's locks. Every claim carries a lease, renewed by its
holder; any process reclaims expired leases.

Which attempts count (the DuckDB start log's promise, startlog.py, without a file to keep it in):
- A claim writes a random token (one per claim statement) in the rows it takes, and the Job keeps
  it (Job._claim, a Claim). Outcomes, renewals, releases and start marks apply only where the row
  still holds that token, so a worker whose lease was taken over changes nothing of the new
  holder's, even when the attempt numbers are the same. (An ack by job id through a handle that did
  not claim it names the current claim by its attempt, as on DuckDB.)
- The attempt is counted in the row at claim time, as before, but a lease that runs out charges it
  only if the claim is `charged`: its start was marked. Otherwise the reclaim gives the attempt
  back, like a release. So the jobs a SIGKILLed worker had prefetched cost nothing.
- The Worker claims with durable=False and tells job_started() when a job starts. Marking every
  start before it runs would cost a round trip per job; instead a thread marks, in one statement,
  the jobs still running START_MARK_DELAY after they started (_StartMarks): a short job never
  costs a write, a long one is charged if its worker dies under it.
- A job whose lease ran out is a suspect (`lost` > 0: leases lost in a row): it may be what killed
  its worker, within START_MARK_DELAY of starting. Before a worker starts a suspect it marks the
  start (one UPDATE; suspects are rare), so each further death counts an attempt, and the reclaim
  that finds its last attempt spent makes it a dead letter ("the worker running it died N times").
  The jobs prefetched behind a poison job never start, are never charged, and run afterwards.
  A reported outcome clears `lost`. The cost of not marking every start: a poison job's first
  death (or a fast job's death within START_MARK_DELAY) is free, so it runs max_attempts + 1 times.
- A user's claim() is charged when taken (durable=True): its caller runs the job at once, and no
  job_started() tells us.

Decisions:
- Round trips cost, not rows: a batch of outcomes of one kind is one statement (unnest of arrays),
  children are made ready in that same statement, and a statement that does everything runs in
  autocommit (atomic on its own) instead of inside BEGIN/COMMIT.
- Idle workers LISTEN on the `queuack` channel; inserts and completions that make work ready
  NOTIFY in their own transaction. Workers still poll (Worker's idle wait) in case a notification
  is lost, e.g. while the listener reconnects.
- A lost connection is reopened with backoff and the operation retried, for up to
  `reconnect_timeout` seconds. Retrying is safe: an outcome only applies to the claim it names
  (its token), and a retried insert first looks whether its batch was committed. A claim whose commit was lost
  expires and runs again: at-least-once, never silently dropped.
- Concurrent completions can lock the same children in different orders; PostgreSQL then aborts
  one with a deadlock error, and that transaction is retried like a lost connection.
- The schema lives in its own PostgreSQL schema `queuack` (postgres.sql) with a version in
  queuack.meta; creating or upgrading it takes an advisory lock, so processes starting at once do
  not race, and a newer version than this code knows is refused. As on DuckDB (schema.py), an
  older version is brought up to date by the steps in _UPGRADES, in one transaction.
- Times are unix seconds from the client's clock, as on DuckDB: hosts sharing a queue should keep
  their clocks in sync (NTP), since delays and leases compare them.
- The counts by queue and status (stats(), the dashboard, /metrics) never read the finished jobs,
  however many are stored. Exact, always: the unfinished ones (pending, delayed, claimed) are
  counted from their rows through the partial indexes that hold only them (jobs_ready,
  jobs_waiting, jobs_leases): a cost that grows with the work waiting, not with the history. The
  finished ones (done, failed, skipped) are summed from queuack.tallies, where each statement that
  finishes, brings back or deletes jobs adds one row per queue and status it changed, in that same
  statement: a row per batch of outcomes, not per job, and only ever inserted, so concurrent
  workers never wait on a shared counter row. The tallies within the throughput window also give
  the throughput and the claim latency of the finished jobs; older ones are folded together
  (FOLD) by a completing process once a minute. Exact as long as every writer runs schema version
  4 or later: rows changed by hand, or by an older queuack, are not counted.
- PostgreSQL refuses a message or a row over 1 GiB (it closes the connection on a bigger message)
  and sends a bytea back as hex text, two characters a byte: so a job whose function and arguments
  exceed MAX_STATEMENT_BYTES (about half a GiB) is refused at enqueue, a result that big fails its
  attempt, and batches of results are sent in statements under that size (new jobs go by COPY).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from contextlib import nullcontext
from importlib import resources
from typing import Callable, Iterable, NamedTuple, Sequence, TypeVar

from .backend import (COPY_COLUMNS, JOB_COLUMNS, LISTED_COLUMNS, LOST, RUN_COLUMNS, SKIPPED_ERROR,
                      THROUGHPUT_WINDOW, Backend, JobFilter, NewJob, Outcome, Overview, RetryPolicy, RunGraph,
                      RunFacts, RunSummary, Snapshot, count_runs, counted, listed, listing_query, registry_lock)
from . import schema
from .errors import (BackendUnavailableError, DAGValidationError, EnqueueError, JobNotFoundError,
                     NotADeadLetterError, NotAQueueDatabaseError, QueuackError)
from .jobs import Job, JobStatus
from .scheduler import resumable

try:
    import psycopg
    from psycopg import conninfo as _conninfo
except ImportError:  # reported when a PostgreSQL URL is opened
    psycopg = None

log = logging.getLogger("queuack.postgres")

SCHEMA_VERSION = 4
_SCHEMA_LOCK = 0x7175657561636B  # "queuack": the advisory lock that serialises schema creation
CHANNEL = "queuack"
CONNECT_TIMEOUT = 5  # seconds: an unreachable server fails fast
RECONNECT_TIMEOUT = 60.0  # seconds an operation keeps retrying a lost connection
MAX_STATEMENT_BYTES = 2**29 - 2**20  # a row's values read back as hex stay under 1 GiB, with room to spare
_RESULT_CACHE_BYTES = 32 * 1024 * 1024  # done results kept in memory for the TaskContexts of children
START_MARK_DELAY = 0.05  # seconds a job runs before its start is marked (most jobs have ended by then)
FOLD_SECONDS = 60.0  # how often a completing process folds old tallies together (see FOLD)

T = TypeVar("T")

_J = ", ".join("j." + c.strip() for c in JOB_COLUMNS.split(","))
_INSERT_COLUMNS = ("id, queue, status, priority, codec, func, args, kwargs, created_at, execute_after, attempts, "
                   "max_attempts, timeout_seconds, node_name, dag_run_id, dependency_mode, remaining, alive")
_INSERT_TYPES = ["text", "text", "text", "int4", "text", "bytea", "bytea", "bytea", "float8", "float8", "int4",
                 "int4", "float8", "text", "text", "text", "int4", "int4"]
# New jobs go in by binary COPY, about twice the rate of an INSERT of the same rows. COPY has no
# ON CONFLICT: ids are fresh uuids, and a retry after a lost connection first looks for the batch
# (all or nothing, so one of its ids tells whether the lost commit happened).
COPY_JOBS = f"COPY queuack.jobs ({_INSERT_COLUMNS}) FROM STDIN (FORMAT BINARY)"

INSERT_EDGES = """
    INSERT INTO queuack.job_dependencies (child_id, parent_id, position)
    SELECT * FROM unnest(%s::text[], %s::text[], %s::int[]) ON CONFLICT DO NOTHING"""



def _tally(rows: str, status: str = "status", n: str = "count(*)", waited: str = "0", at: str = "%(now)s",
           where: str = "") -> str:
    """The INSERT that records, in the statement that changes them, how the jobs of the CTE `rows`
    (with a queue column) changed the finished counts: one queuack.tallies row per queue and status."""
    return (f"INSERT INTO queuack.tallies (queue, status, n, waited, at) "
            f"SELECT queue, {status}, {n}, {waited}, {at} FROM {rows} {where} GROUP BY 1, 2")


# Seconds from ready (created or due) to claimed, of a job's last attempt: summed into its outcome's tally.
_WAITED = "j.claimed_at - greatest(j.created_at, j.execute_after) AS waited"

LOCK_PARENTS = "SELECT id, status, node_name FROM queuack.jobs WHERE id = ANY(%s) ORDER BY id FOR SHARE"

# The waiting children of the parents in `p` (a CTE of ids), found through the index on
# parent_id and updated by primary key, and how many of their parents are in `p`. Written so that
# the plan cannot become a nested loop over the whole jobs table, whatever the statistics say
# (a freshly submitted DAG has none yet).
_CHILDREN = ("c.id = ANY(ARRAY(SELECT e.child_id FROM queuack.job_dependencies e WHERE e.parent_id IN "
             "(SELECT id FROM p))) AND c.status = 'pending' AND c.remaining > 0")
_N = ("(SELECT count(*) FROM queuack.job_dependencies e WHERE e.child_id = c.id "
      "AND e.parent_id IN (SELECT id FROM p))")

# One parent fewer to wait for, or none for an "any" child. Shared by completion and by inserts
# whose parents are done already.
_MAKE_READY = f"""
    UPDATE queuack.jobs c SET remaining = CASE WHEN c.dependency_mode = 'any' THEN 0 ELSE c.remaining - {_N} END
    WHERE {_CHILDREN} {{only}}
    RETURNING c.remaining"""

# An outcome, a renewal or a release applies to the claim it names: by its token (v.claim), or,
# for an ack by job id through a handle that did not claim it, by the current claim's attempt.
_OWNS = "j.id = v.id AND j.status = 'claimed' AND CASE WHEN v.claim IS NULL THEN j.attempts = v.att ELSE j.claim_token = v.claim END"
_ENDED = "claim_token = NULL, charged = false, lost = 0"  # its worker reported: no longer a suspect

COMPLETE_DONE = f"""
    WITH v AS (SELECT * FROM unnest(%(ids)b::text[], %(att)b::int[], %(claim)b::int8[], %(res)b::bytea[])
               AS v(id, att, claim, result)),
    p AS (
        UPDATE queuack.jobs j SET status = 'done', result = v.result, completed_at = %(now)s,
               lease_expires_at = NULL, error = NULL, traceback = NULL, {_ENDED}
        FROM v WHERE {_OWNS}
        RETURNING j.id, j.queue, {_WAITED}),
    kids AS ({_MAKE_READY.format(only="")}),
    counted AS ({_tally("p", "'done'", waited="coalesce(sum(waited), 0)")})
    SELECT id FROM p
    UNION ALL SELECT NULL FROM (SELECT pg_notify('{CHANNEL}', '') FROM kids WHERE remaining = 0 LIMIT 1) woke"""

PARENTS_DONE = f"""
    WITH p AS (SELECT unnest(%(ids)s::text[]) AS id)
    {_MAKE_READY.format(only="AND c.id = ANY(%(only)s)")}"""

_LAST = "(v.last OR j.attempts >= j.max_attempts)"
COMPLETE_ERROR = f"""
    WITH u AS (
        UPDATE queuack.jobs j SET
            status = CASE WHEN {_LAST} THEN 'failed' ELSE 'pending' END,
            execute_after = CASE WHEN {_LAST} THEN j.execute_after ELSE v.retry_at END,
            completed_at = CASE WHEN {_LAST} THEN %(now)s END,
            error = v.error, traceback = v.tb, lease_expires_at = NULL, {_ENDED}
        FROM unnest(%(ids)s::text[], %(att)s::int[], %(claim)s::int8[], %(last)s::bool[], %(at)s::float8[],
                    %(err)s::text[], %(tb)s::text[]) AS v(id, att, claim, last, retry_at, error, tb)
        WHERE {_OWNS}
        RETURNING j.id, j.status, j.execute_after, j.queue, {_WAITED}),
    counted AS ({_tally("u", "'failed'", waited="coalesce(sum(waited), 0)", where="WHERE status = 'failed'")})
    SELECT id, status, execute_after FROM u"""

# Given back: this attempt does not count (a suspect stays one)
RELEASE = f"""
    UPDATE queuack.jobs j SET status = 'pending', attempts = j.attempts - 1, lease_expires_at = NULL,
           claimed_by = NULL, claimed_at = NULL, claim_token = NULL, charged = false
    FROM unnest(%(ids)s::text[], %(att)s::int[], %(claim)s::int8[]) AS v(id, att, claim)
    WHERE {_OWNS}
    RETURNING j.id"""

# Children that can no longer run because the parents in `p` failed or were skipped: an "all"
# child is skipped; an "any" child loses a parent that could succeed, and is skipped when none is left.
_DOOMED = f"(c.dependency_mode = 'all' OR c.alive - {_N} <= 0)"
SKIP_CHILDREN = f"""
    WITH p AS (SELECT unnest(%(ids)s::text[]) AS id),
    s AS (
        UPDATE queuack.jobs c SET alive = c.alive - {_N},
            status = CASE WHEN {_DOOMED} THEN 'skipped' ELSE c.status END,
            completed_at = CASE WHEN {_DOOMED} THEN %(now)s END,
            error = CASE WHEN {_DOOMED} THEN %(why)s END
        WHERE {_CHILDREN} {{only}}
        RETURNING c.id, c.status, c.queue),
    counted AS ({_tally("s", "'skipped'", where="WHERE status = 'skipped'")})
    SELECT id, status FROM s"""

CANCEL_RUN = f"""
    WITH s AS (
        UPDATE queuack.jobs SET status = 'skipped', completed_at = %(now)s, error = 'skipped: its DAG run was cancelled'
        WHERE dag_run_id = %(run)s AND status = 'pending' RETURNING id, queue),
    counted AS ({_tally("s", "'skipped'")})
    SELECT id FROM s"""

# A claimed job goes over as pending, its attempt counted only if it had started (charged)
_EXPORTED = {"status": "CASE WHEN status = 'claimed' THEN 'pending' ELSE status END",
             "attempts": "CASE WHEN status = 'claimed' AND NOT charged THEN attempts - 1 ELSE attempts END"}
EXPORT_JOBS = f"""
    SELECT {", ".join(_EXPORTED.get(c.strip(), c.strip()) for c in COPY_COLUMNS.split(","))}
    FROM queuack.jobs ORDER BY seq"""

_COPY_TYPES = ("text, text, text, int, bigint, text, bytea, bytea, bytea, float8, float8, int, int, float8, text, "
               "float8, float8, bytea, text, text, text, text, text")
IMPORT_JOBS = f"""
    WITH i AS (
        INSERT INTO queuack.jobs ({COPY_COLUMNS})
        SELECT * FROM unnest({", ".join(f"%b::{t}[]" for t in _COPY_TYPES.split(", "))})
        ON CONFLICT (id) DO NOTHING RETURNING queue, status)
    {_tally("i", at="0", where="WHERE status IN ('done', 'failed', 'skipped')")}"""

IMPORT_RUNS = f"""
    INSERT INTO queuack.dag_runs ({RUN_COLUMNS})
    SELECT * FROM unnest(%s::text[], %s::text[], %s::float8[], %s::text[], %s::float8[]) ON CONFLICT DO NOTHING"""

# Readiness of imported unfinished jobs, from their parents' statuses (a parent no longer stored
# counts as done, as it was purged after finishing).
IMPORT_READINESS = """
    UPDATE queuack.jobs c SET
        remaining = CASE WHEN c.dependency_mode = 'any' AND s.done > 0 THEN 0 ELSE s.open END,
        alive = s.open + s.done
    FROM (SELECT d.child_id,
                 count(*) FILTER (WHERE p.status IN ('pending', 'claimed')) AS open,
                 count(*) FILTER (WHERE p.status = 'done' OR p.id IS NULL) AS done
          FROM queuack.job_dependencies d LEFT JOIN queuack.jobs p ON p.id = d.parent_id
          WHERE d.child_id = ANY(%s) GROUP BY d.child_id) s
    WHERE c.id = s.child_id AND c.status = 'pending'"""

EXPIRED = """
    SELECT id, attempts, max_attempts, charged, lost FROM queuack.jobs
    WHERE status = 'claimed' AND lease_expires_at < %s
    ORDER BY lease_expires_at LIMIT 1000 FOR UPDATE SKIP LOCKED"""

# The expired claims locked by EXPIRED in the same transaction, with what _reclaimed decided
RECLAIM = f"""
    WITH r AS (
        UPDATE queuack.jobs j SET status = v.status, attempts = v.att, lost = j.lost + 1, error = v.error,
               traceback = NULL, lease_expires_at = NULL, claim_token = NULL, charged = false,
               execute_after = CASE WHEN v.status = 'pending' THEN %(now)s ELSE j.execute_after END,
               completed_at = CASE WHEN v.status = 'failed' THEN %(now)s END
        FROM unnest(%(ids)s::text[], %(st)s::text[], %(att)s::int[], %(err)s::text[]) AS v(id, status, att, error)
        WHERE j.id = v.id AND j.status = 'claimed'
        RETURNING j.id, j.status, j.queue, {_WAITED}),
    counted AS ({_tally("r", "'failed'", waited="coalesce(sum(waited), 0)", where="WHERE status = 'failed'")})
    SELECT id, status FROM r"""

# The durable start mark: from now on, losing this claim counts its attempt (charged = false once
# the job returned)
MARK_STARTED = """
    UPDATE queuack.jobs j SET charged = %(charged)s
    FROM unnest(%(ids)s::text[], %(claims)s::int8[]) AS v(id, claim)
    WHERE j.id = v.id AND j.status = 'claimed' AND j.claim_token = v.claim"""

ANY_EXPIRED = "SELECT 1 FROM queuack.jobs WHERE status = 'claimed' AND lease_expires_at < %s LIMIT 1"

RENEW = f"""
    UPDATE queuack.jobs j SET lease_expires_at = %(lease)s
    FROM unnest(%(ids)s::text[], %(att)s::int[], %(claim)s::int8[]) AS v(id, att, claim)
    WHERE {_OWNS}"""

NEXT_WAKEUP = """
    SELECT least((SELECT min(execute_after) FROM queuack.jobs
                  WHERE status = 'pending' AND remaining = 0 AND execute_after > %(now)s),
                 (SELECT min(lease_expires_at) FROM queuack.jobs WHERE status = 'claimed'))"""

RETRY_FAILED = f"""
    WITH r AS (UPDATE queuack.jobs SET status = 'pending', attempts = 0, execute_after = %(now)s,
                      completed_at = NULL, claimed_by = NULL, lost = 0
               WHERE id = %(id)s AND status = 'failed' RETURNING id, queue),
    counted AS ({_tally("r", "'failed'", n="-count(*)")})
    SELECT id, pg_notify('{CHANNEL}', '') FROM r"""

# The descendants of a retried dead letter: (id, status, mode), "skipped" only for those skipped
# because a parent failed; and their parents, for scheduler.resumable.
DESCENDANTS = """
    WITH RECURSIVE d(id) AS (
        SELECT child_id FROM queuack.job_dependencies WHERE parent_id = %(id)s
        UNION SELECT e.child_id FROM queuack.job_dependencies e JOIN d ON e.parent_id = d.id)
    SELECT id, CASE WHEN status = 'skipped' AND error = %(why)s THEN 'skipped' ELSE status || '!' END, dependency_mode
    FROM queuack.jobs WHERE id IN (SELECT id FROM d)"""

PARENT_STATUSES = """
    SELECT d.child_id, d.parent_id, p.status FROM queuack.job_dependencies d JOIN queuack.jobs p ON p.id = d.parent_id
    WHERE d.child_id = ANY(%(ids)s) ORDER BY d.child_id, d.position"""

RESUME = f"""
    WITH r AS (UPDATE queuack.jobs SET status = 'pending', execute_after = %(now)s, completed_at = NULL, error = NULL
               WHERE id = ANY(%(ids)s) AND status = 'skipped' RETURNING queue)
    {_tally("r", "'skipped'", n="-count(*)")}"""

# "any" children that kept waiting have parents that can succeed again
REGAIN_PARENTS = f"""
    WITH p AS (SELECT unnest(%(ids)s::text[]) AS id)
    UPDATE queuack.jobs c SET alive = c.alive + {_N} WHERE {_CHILDREN} AND NOT c.id = ANY(%(back)s)"""

PURGE = f"""
    WITH gone AS (
        SELECT id FROM queuack.jobs j
        WHERE status = ANY(%(st)s) AND completed_at < %(before)s AND (%(q)s::text IS NULL OR queue = %(q)s)
          AND NOT EXISTS (SELECT 1 FROM queuack.job_dependencies d JOIN queuack.jobs c ON c.id = d.child_id
                          WHERE d.parent_id = j.id AND c.status IN ('pending', 'claimed'))),
    edges AS (DELETE FROM queuack.job_dependencies
              WHERE child_id IN (SELECT id FROM gone) OR parent_id IN (SELECT id FROM gone)),
    deleted AS (DELETE FROM queuack.jobs WHERE id IN (SELECT id FROM gone) RETURNING id, queue, status),
    counted AS ({_tally("deleted", n="-count(*)", where="WHERE status IN ('done', 'failed', 'skipped')")})
    SELECT count(*) FROM deleted"""

# Old tallies folded into one row per queue and status (at 0): the rows of the throughput window
# stay as they are. Concurrent folds are safe: each deletes only rows it sees, and skips those
# another one deleted first.
FOLD = """
    WITH old AS (DELETE FROM queuack.tallies WHERE at < %(before)s RETURNING queue, status, n)
    INSERT INTO queuack.tallies (queue, status, n, at)
    SELECT queue, status, sum(n), 0 FROM old GROUP BY 1, 2 HAVING sum(n) <> 0"""

# The dashboard's counts (see PostgresBackend.counts): the finished ones and the outcomes within the
# window (count and seconds waited) from the tallies, the unfinished ones through the partial indexes
# that hold only them (jobs_ready, jobs_waiting, jobs_leases).
TALLIES = """
    SELECT queue, status, sum(n)::bigint, coalesce(sum(n) FILTER (WHERE at > %(since)s AND n > 0), 0)::bigint,
           coalesce(sum(waited) FILTER (WHERE at > %(since)s AND n > 0), 0)
    FROM queuack.tallies GROUP BY 1, 2"""
_DELAYED = "CASE WHEN execute_after > %(now)s THEN 'delayed' ELSE 'pending' END"
UNFINISHED = f"""
    SELECT queue, {_DELAYED}, count(*) FROM queuack.jobs WHERE status = 'pending' AND remaining = 0 GROUP BY 1, 2
    UNION ALL
    SELECT queue, {_DELAYED}, count(*) FROM queuack.jobs WHERE status = 'pending' AND remaining > 0 GROUP BY 1, 2
    UNION ALL
    SELECT queue, 'claimed', count(*) FROM queuack.jobs WHERE status = 'claimed' GROUP BY 1"""

# What run_status_counts needs (see Backend.run_status_counts), through the partial indexes of failed
# and unfinished jobs and the index on dag_run_id: the runs with failed jobs; and of the runs with
# unfinished jobs, how many of those, how many claimed, and how many jobs in all.
FAILED_RUNS = """
    SELECT DISTINCT j.dag_run_id FROM queuack.jobs j JOIN queuack.dag_runs r ON r.id = j.dag_run_id
    WHERE j.status = 'failed' AND r.cancelled_at IS NULL"""
UNFINISHED_RUNS = """
    WITH u AS (
        SELECT dag_run_id, status FROM queuack.jobs WHERE status = 'pending' AND remaining = 0 AND dag_run_id IS NOT NULL
        UNION ALL
        SELECT dag_run_id, status FROM queuack.jobs WHERE status = 'pending' AND remaining > 0 AND dag_run_id IS NOT NULL
        UNION ALL
        SELECT dag_run_id, status FROM queuack.jobs WHERE status = 'claimed' AND dag_run_id IS NOT NULL)
    SELECT u.dag_run_id, count(*), count(*) FILTER (WHERE u.status = 'claimed'),
           (SELECT count(*) FROM queuack.jobs a WHERE a.dag_run_id = u.dag_run_id)
    FROM u JOIN queuack.dag_runs r ON r.id = u.dag_run_id WHERE r.cancelled_at IS NULL GROUP BY 1"""

PURGE_RUNS = """
    DELETE FROM queuack.dag_runs r WHERE NOT EXISTS (SELECT 1 FROM queuack.jobs WHERE dag_run_id = r.id)"""


def _too_big(size: int) -> str:
    return (f"{size:,} bytes encoded, and PostgreSQL carries at most {MAX_STATEMENT_BYTES:,} bytes of "
            "values in one row or statement (it refuses a message over 1 GiB, and sends bytes back as hex)")


def _sized_chunks(items: list, size: Callable[[object], int]) -> list[list]:
    """`items` in order, cut into runs whose sizes add up to at most MAX_STATEMENT_BYTES each."""
    chunks: list[list] = [[]]
    total = 0
    for item in items:
        n = size(item)
        if chunks[-1] and total + n > MAX_STATEMENT_BYTES:
            chunks.append([])
            total = 0
        chunks[-1].append(item)
        total += n
    return chunks


def _storable(outcome: Outcome) -> Outcome:
    """A result too big to send fails its attempt, as a result over DuckDB's limit does."""
    size = len(outcome.result or b"")
    if outcome.kind != "done" or size <= MAX_STATEMENT_BYTES:
        return outcome
    return dataclasses.replace(outcome, kind="error", result=None,
                               error=f"SerializationError: the result is {_too_big(size)}. "
                                     "Write it to a file and return the path instead.")


class Claim(NamedTuple):
    """What a Job claimed here carries (Job._claim) and its Outcome brings back (Outcome.claim)."""

    token: int  # written in the row by the claim: only the holder's statements name it
    suspect: bool  # it lost a lease before: its start is marked before it runs


def _claims(items: Sequence[Outcome] | Sequence[Job]) -> dict[str, list]:
    """The ids, attempts and tokens of these outcomes' or jobs' claims, for the statements that check _OWNS."""
    keys = [(o.job_id, o.attempt, o.claim) if isinstance(o, Outcome) else (o.id, o.attempts, o._claim) for o in items]
    return {"ids": [k[0] for k in keys], "att": [k[1] for k in keys],
            "claim": [c.token if isinstance(c, Claim) else None for _, _, c in keys]}


# What a lost lease leaves in the job's error: not started, started, started on its last attempt
_LEASE_LOST = (
    "lease expired before its start was marked (its worker died or hung): it runs again, this attempt not "
    "counted, and its next start is counted before it runs",
    "lease expired on attempt {attempt}: the worker running it died or hung; it runs again",
    "lease expired on attempt {attempt} of {of}: the worker running it died {died} times in a row without "
    "reporting (os._exit(), a crash in native code, the out-of-memory killer, a kill, or a hang); "
    "it is not run again",
)


def _reclaimed(job_id: str, attempts: int, max_attempts: int, charged: bool, lost: int) -> tuple:
    """(id, status, attempts, error) of an expired claim given back: charged when its start was marked."""
    if not charged:
        return job_id, "pending", attempts - 1, _LEASE_LOST[0]
    last = attempts >= max_attempts
    error = _LEASE_LOST[2 if last else 1].format(attempt=attempts, of=max_attempts, died=lost + 1)
    return job_id, "failed" if last else "pending", attempts, error


class _StartMarks:
    """The start marks of the jobs this process runs (see the module docstring). A suspect's is
    written before it runs; any other job's by a thread of its own once the job has run for
    START_MARK_DELAY, in one statement for all that are due, so a job that returns sooner costs
    nothing. A marked job that returns is unmarked at once: its outcome may wait for the group
    commit, and a crash meanwhile (the next job may be the poison) must not charge it.

    started() and finished() take no lock (a worker calls them around every job): they rely on
    single dict and set operations being atomic, and on the order in which each side writes and
    reads (commented where it matters)."""

    IDLE_AFTER = 1.0  # seconds without a running job before the thread waits to be woken

    def __init__(self, write: Callable[[list[tuple[str, int]], bool], None]):
        self._write = write  # write(claims, charged): the statement, on the backend's connection
        self._changed = threading.Condition(threading.Lock())
        self._writing = threading.Lock()  # held while marks are written: an unmark waits, then lands last
        self._running: dict[tuple[str, int], float] = {}  # (job id, token) -> when it started, not marked yet
        self._marked: set[tuple[str, int]] = set()
        self._thread: threading.Thread | None = None
        self._idle = False  # the thread waits to be woken by the next start
        self._closed = False

    def started(self, job_id: str, token: int, suspect: bool) -> None:
        key = (job_id, token)
        if suspect:
            if self._written([key], True):
                self._marked.add(key)
            return
        self._running[key] = time.monotonic()  # before reading _idle, which the thread raises before rereading this
        if self._idle or self._thread is None:
            with self._changed:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._mark_due, name="queuack-pg-starts", daemon=True)
                    self._thread.start()
                self._changed.notify()

    def finished(self, job_id: str, token: int) -> None:
        key = (job_id, token)
        # not running any more, and taken by the thread: it is (being) marked
        if self._running.pop(key, None) is None and key in self._marked:
            self._marked.discard(key)
            with self._writing:
                self._written([key], False)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _mark_due(self) -> None:
        empty_since = None
        while True:
            with self._changed:
                if self._closed:
                    return
                now = time.monotonic()
                running = list(self._running.items())
                if not running:
                    empty_since = empty_since or now
                    if now - empty_since < self.IDLE_AFTER:  # a busy worker between jobs: no wake-ups to pay
                        self._changed.wait(START_MARK_DELAY)
                        continue
                    self._idle = True
                    if not self._running:  # reread after raising _idle: a start from now on wakes us
                        self._changed.wait()
                    self._idle = False
                    continue
                empty_since = None
                due = [key for key, at in running if at + START_MARK_DELAY <= now]
                if not due:
                    self._changed.wait(min(at for _, at in running) + START_MARK_DELAY - now)
                    continue
            with self._writing:
                taken = []
                for key in due:
                    self._marked.add(key)  # before taking it: finished() then knows to unmark it
                    if self._running.pop(key, None) is None:  # it returned meanwhile: nothing to mark
                        self._marked.discard(key)
                    else:
                        taken.append(key)
                if taken:
                    self._written(taken, True)

    def _written(self, claims: list[tuple[str, int]], charged: bool) -> bool:
        try:
            self._write(claims, charged)
            return True
        except (QueuackError, psycopg.Error) as exc:  # the server stayed away, or the queue closed
            log.warning("the %s of %d running job(s) could not be recorded (%s)%s",
                        "starts" if charged else "returns", len(claims), exc,
                        ": if one takes its worker down, that attempt is not counted" if charged else "")
            return False


def _claim_sql(by_queue: bool, only: bool) -> str:
    where = ["status = 'pending'", "remaining = 0", "execute_after <= %(now)s"]
    order = "priority DESC, seq"
    if by_queue:  # the given queues in their order, then priority, then FIFO
        where.append("queue = ANY(%(queues)s)")
        order = "array_position(%(queues)s, queue), " + order
    if only:
        where.append("id = ANY(%(only)s)")
    return f"""
        UPDATE queuack.jobs j SET status = 'claimed', attempts = j.attempts + 1, claimed_by = %(worker)s,
               claimed_at = %(now)s, lease_expires_at = %(lease)s, claim_token = %(token)s, charged = %(charged)s
        FROM (SELECT id FROM queuack.jobs WHERE {" AND ".join(where)}
              ORDER BY {order} LIMIT %(n)s FOR UPDATE SKIP LOCKED) picked
        WHERE j.id = picked.id
        RETURNING {_J}, j.lost, j.seq"""


_CLAIMS = {(q, o): _claim_sql(q, o) for q in (False, True) for o in (False, True)}


# -- connection settings ------------------------------------------------------------------------
def _settings(url: str) -> dict[str, str]:
    """What libpq will use: the URL, then the PG* environment variables, then libpq's defaults."""
    params = _conninfo.conninfo_to_dict(url)
    env = {"host": "PGHOST", "port": "PGPORT", "dbname": "PGDATABASE", "user": "PGUSER", "service": "PGSERVICE"}
    out = {k: str(v) for k, v in params.items() if v not in (None, "")}
    for key, var in env.items():
        if key not in out and os.environ.get(var):
            out[key] = os.environ[var]
    return out


def describe(url: str) -> str:
    """The server and database a URL points at, for messages: never the password."""
    s = _settings(url)
    user = s.get("user") or os.environ.get("USER") or "?"
    where = f"postgresql://{user}@{s.get('host', 'localhost')}:{s.get('port', '5432')}/{s.get('dbname', user)}"
    return where + (f" (service {s['service']})" if "service" in s else "")


def _scrub(text: str, url: str) -> str:
    password = _settings(url).get("password")
    return text.replace(password, "***") if password else text


_registry: dict[tuple[str, int], "PostgresBackend"] = {}


class PostgresBackend(Backend):
    """Shared, reference-counted access to one PostgreSQL database from this process."""

    _registry = _registry

    @classmethod
    def open(cls, url: str, read_only: bool = False) -> "PostgresBackend":
        """read_only: create nothing; refuse a database without a queue (commands that only look)."""
        if psycopg is None:
            raise QueuackError(
                f"{describe_safely(url)} is a PostgreSQL URL, and the PostgreSQL driver is not installed: "
                'pip install "queuack[postgres]" (it brings psycopg 3).')
        key = (url, os.getpid())  # a forked child opens connections of its own
        with registry_lock:
            backend = _registry.get(key)
            if backend is None or backend._closed:
                backend = _registry[key] = cls(url, read_only=read_only)
                backend._key = key
            backend._refs += 1
            return backend

    def __init__(self, url: str, reconnect_timeout: float = RECONNECT_TIMEOUT, read_only: bool = False):
        self.url = url
        self.path = describe(url)
        self.reconnect_timeout = reconnect_timeout
        self.lock = threading.RLock()  # one connection, one statement or transaction at a time
        self.changed = threading.Condition()
        self._conn = None
        self._listener: threading.Thread | None = None
        self._cache_lock = threading.Lock()
        self._results: OrderedDict[str, tuple[str, bytes | None]] = OrderedDict()  # done results, LRU
        self._results_bytes = 0
        self._marks = _StartMarks(self._mark_started)
        self._fold_at = 0.0  # when complete() next folds the old tallies together
        self._conn = self._connect()
        self._ensure_schema(self._conn, read_only)

    # -- connections ---------------------------------------------------------------------------
    def _connect(self):
        params = _conninfo.conninfo_to_dict(self.url)
        extra = {} if "connect_timeout" in params or os.environ.get("PGCONNECT_TIMEOUT") else {
            "connect_timeout": CONNECT_TIMEOUT}
        try:
            return psycopg.connect(self.url, autocommit=True, application_name="queuack", **extra)
        except psycopg.Error as exc:
            reason = _scrub(str(exc).strip(), self.url).splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BackendUnavailableError(
                f"cannot connect to PostgreSQL at {self.path}: {reason}. Check that the server is running "
                "and reachable, and the URL's host, port, database and credentials (or PGHOST, PGPORT, "
                "PGDATABASE, PGUSER, PGPASSWORD)."
            ) from None

    def _ensure_schema(self, conn, read_only: bool = False) -> None:
        version = self._schema_version(conn)
        if version is None and read_only:
            conn.close()
            raise NotAQueueDatabaseError(
                f"{self.path} holds no queue: there is no queuack schema in that database. Check the "
                "URL's database name; a queue is created where it is first opened by DuckQueue(url) or by "
                "`queuack worker URL`. "
                "Nothing was changed.")
        if version is None:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEMA_LOCK])
                # Another process may have created it meanwhile; the DDL says IF NOT EXISTS and the
                # version row is inserted only once (the catalog lookup above may not see a
                # table created by a transaction that committed while we waited for the lock).
                conn.execute(resources.files("queuack").joinpath("postgres.sql").read_text())
                conn.execute("INSERT INTO queuack.meta VALUES ('schema_version', %s) ON CONFLICT DO NOTHING",
                             [str(SCHEMA_VERSION)])
                version = self._schema_version(conn)
        if version < SCHEMA_VERSION and not read_only:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEMA_LOCK])
                for step in range(self._schema_version(conn), SCHEMA_VERSION):  # another process may have begun
                    _UPGRADES[step](conn)
                    conn.execute("UPDATE queuack.meta SET value = %s WHERE key = 'schema_version'", [str(step + 1)])
                version = self._schema_version(conn)
        try:
            schema.check_version(version, f"the queue in {self.path}", SCHEMA_VERSION)
        except QueuackError:
            conn.close()
            raise

    @staticmethod
    def _schema_version(conn) -> int | None:
        if conn.execute("SELECT to_regclass('queuack.meta')").fetchone()[0] is None:
            return None
        row = conn.execute("SELECT value FROM queuack.meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else None

    def _run(self, work: Callable[..., T]) -> T:
        """work(connection), retried on a new connection when the old one was lost (server restart,
        network) or when PostgreSQL aborted it to break a deadlock, for up to reconnect_timeout."""
        deadline = time.monotonic() + self.reconnect_timeout
        delay = 0.05
        while True:
            with self.lock:
                if self._closed:
                    raise QueuackError(f"the queue on {self.path} is closed")
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = self._connect()
                    return work(self._conn)
                except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                    problem = "a deadlock between concurrent completions"
                except BackendUnavailableError as exc:
                    problem = str(exc)
                except psycopg.OperationalError as exc:
                    if self._conn is not None and not self._conn.closed and not self._conn.broken:
                        raise
                    problem = f"the connection was lost ({_scrub(str(exc).strip(), self.url)})"
                    self._conn = None
            if time.monotonic() + delay > deadline:
                raise BackendUnavailableError(f"PostgreSQL at {self.path} did not answer for "
                                              f"{self.reconnect_timeout:g}s: {problem}")
            log.warning("%s: %s; retrying in %.2fs", self.path, problem, delay)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    # -- lifetime ---------------------------------------------------------------------------------
    def _shutdown(self) -> None:
        self._marks.close()
        with self.lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
        self._notify_local()
        if self._listener is not None and self._listener is not threading.current_thread():
            self._listener.join(timeout=5)

    def _notify_local(self) -> None:
        with self.changed:
            self.changed.notify_all()

    # -- inserting ----------------------------------------------------------------------------------
    def insert(self, jobs: list[NewJob], dag_run: tuple[str, int] | None = None) -> None:
        now = time.time()
        batch = {j.id for j in jobs}
        external = sorted({p for j in jobs for p in j.parents if p not in batch})

        def stored(j: NewJob) -> int:
            return len(j.func) + len(j.args) + len(j.kwargs)

        for j in jobs:
            if stored(j) > MAX_STATEMENT_BYTES:
                raise EnqueueError(f"cannot enqueue job {j.node_name or j.id}: its function and arguments are "
                                   f"{_too_big(stored(j))}. Write the data to a file and pass its path instead.")
        rows = [(j.id, j.queue, "pending", j.priority, j.codec, j.func, j.args, j.kwargs, now, j.execute_after, 0,
                 j.max_attempts, j.timeout_seconds, j.node_name, j.dag_run_id, j.dependency_mode,
                 len(j.parents), len(j.parents)) for j in jobs]
        edges = [(j.id, p, pos) for j in jobs for pos, p in enumerate(j.parents)]
        tries = 0

        def work(conn):
            nonlocal tries
            tries += 1
            # a COPY alone is atomic: autocommitted, two round trips fewer than in BEGIN/COMMIT
            with conn.transaction() if external or edges or dag_run else nullcontext():
                if tries > 1 and rows and conn.execute("SELECT 1 FROM queuack.jobs WHERE id = %s",
                                                       [rows[0][0]]).fetchone():
                    return  # the commit of an earlier try went through before the connection was lost
                status = {}
                if external:
                    status = {r[0]: r[1] for r in conn.execute(LOCK_PARENTS, [external])}
                    missing = [p for p in external if p not in status]
                    if missing:
                        raise DAGValidationError(
                            f"depends_on names job id(s) that are not in this queue: {', '.join(missing)}. "
                            "Enqueue the parent first, or depend on a task name inside the DAG.")
                if rows:
                    with conn.cursor().copy(COPY_JOBS) as copy:
                        copy.set_types(_INSERT_TYPES)
                        for row in rows:
                            copy.write_row(row)
                    conn.execute(f"NOTIFY {CHANNEL}")  # lost with the connection? workers poll too
                if edges:
                    conn.execute(INSERT_EDGES, [list(c) for c in zip(*edges)])
                if dag_run is not None:
                    conn.execute("INSERT INTO queuack.dag_runs (id, name, created_at) VALUES (%s, %s, %s) "
                                 "ON CONFLICT DO NOTHING",
                                 [dag_run[0], dag_run[1], now])
                new = [j.id for j in jobs if j.parents]
                done = [p for p, s in status.items() if s == "done"]
                if done:
                    conn.execute(PARENTS_DONE, {"ids": done, "only": new})
                dead = [p for p, s in status.items() if s in ("failed", "skipped")]
                if dead:
                    self._skip_children(conn, dead, now, only=new)

        self._run(work)
        self._notify_local()

    # -- claiming -------------------------------------------------------------------------------------
    def claim(self, queues: Sequence[str] | None, count: int, worker_id: str, lease_seconds: float,
              only: set[str] | None = None, durable: bool = True) -> list[Job]:
        if only is not None and not only:
            return []
        self.reclaim_expired()
        now = time.time()
        token = secrets.randbits(63)
        # a user's claim() runs the job at once, unseen by job_started: its attempt counts from here
        params = {"now": now, "lease": now + lease_seconds, "worker": worker_id, "n": count, "token": token,
                  "charged": durable, "queues": list(queues) if queues is not None else None,
                  "only": list(only) if only is not None else None}
        sql = _CLAIMS[(queues is not None, only is not None)]
        rows = self._run(lambda conn: conn.execute(sql, params).fetchall())
        order = {q: i for i, q in enumerate(queues or ())}
        rows.sort(key=lambda r: (order.get(r[4], 0), -r[6], r[-1]))  # RETURNING keeps no order
        in_dags = [r[0] for r in rows if r[20] is not None]
        # the TaskContexts of DAG jobs need their parents: one read for the batch
        parents = self.parents(in_dags) if in_dags else {}
        jobs = []
        for r in rows:
            job = self._job(r[:-2])
            job._parents = parents.get(job.id)
            job._claim = Claim(token, suspect=r[-2] > 0 and not durable)
            jobs.append(job)
        return jobs

    def reclaim_expired(self) -> int:
        """Give back the claims whose lease ran out (their worker died, hung or lost the network):
        charged only if their start was marked, and suspects from now on (see the module docstring)."""
        now = time.time()
        if not self._query(ANY_EXPIRED, [now]):  # the usual case: one cheap look, no transaction
            return 0

        def work(conn):
            with conn.transaction():
                decided = [_reclaimed(*row) for row in conn.execute(EXPIRED, [now]).fetchall()]
                if not decided:
                    return []
                columns = dict(zip(("ids", "st", "att", "err"), map(list, zip(*decided))))
                rows = conn.execute(RECLAIM, {"now": now, **columns}).fetchall()
                failed = [job_id for job_id, status in rows if status == "failed"]
                if failed:
                    self._skip_children(conn, failed, now)
                if len(failed) < len(rows):
                    conn.execute(f"SELECT pg_notify('{CHANNEL}', '')")
                return rows

        reclaimed = self._run(work)
        if reclaimed:
            failed = sum(1 for _, status in reclaimed if status == "failed")
            log.warning("%s: %d expired lease(s) reclaimed%s", self.path, len(reclaimed),
                        f", {failed} of them dead letters (their workers kept dying)" if failed else "")
        return len(reclaimed)

    def renew(self, jobs: Sequence[Job], lease_seconds: float) -> None:
        if jobs:
            params = {"lease": time.time() + lease_seconds, **_claims(jobs)}
            self._run(lambda conn: conn.execute(RENEW, params))

    def job_started(self, job: Job) -> None:
        if isinstance(job._claim, Claim):
            self._marks.started(job.id, job._claim.token, job._claim.suspect)

    def job_finished(self, job: Job) -> None:
        if isinstance(job._claim, Claim):
            self._marks.finished(job.id, job._claim.token)

    def _mark_started(self, claims: list[tuple[str, int]], charged: bool) -> None:
        params = {"ids": [c[0] for c in claims], "claims": [c[1] for c in claims], "charged": charged}
        self._run(lambda conn: conn.execute(MARK_STARTED, params))

    # -- completing ---------------------------------------------------------------------------------
    def complete(self, outcomes: list[Outcome], policy: RetryPolicy | None = None, lone: bool = False) -> set[str]:
        if not outcomes:
            return set()
        policy = policy or RetryPolicy()
        outcomes = [_storable(o) for o in outcomes]
        chunks = _sized_chunks(outcomes, lambda o: len(o.result or b""))
        if len(chunks) > 1:  # outcomes of different jobs are independent: one statement group each
            return set().union(*(self.complete(chunk, policy) for chunk in chunks))
        now = time.time()

        def work(conn):
            kinds = {"done" if o.kind == "done" else "release" if o.kind == "release" else "error" for o in outcomes}
            with conn.transaction() if len(kinds) > 1 or "error" in kinds else nullcontext():
                return self._complete(conn, outcomes, policy, now)

        applied = self._run(work)
        self._notify_local()
        if now >= self._fold_at:
            self._fold_at = now + FOLD_SECONDS
            self._run(lambda conn: conn.execute(FOLD, {"before": now - 2 * THROUGHPUT_WINDOW}))
        return applied

    def _complete(self, conn, outcomes: list[Outcome], policy: RetryPolicy, now: float) -> set[str]:
        """Apply outcomes on `conn` (inside a transaction when there is more than one statement)."""
        done = [o for o in outcomes if o.kind == "done"]
        release = [o for o in outcomes if o.kind == "release"]
        errors = [o for o in outcomes if o.kind not in ("done", "release")]
        applied: set[str] = set()
        if done:
            rows = conn.execute(COMPLETE_DONE, {**_claims(done), "res": [o.result for o in done], "now": now}).fetchall()
            applied |= {r[0] for r in rows if r[0] is not None}
        if release:
            rows = conn.execute(RELEASE, _claims(release)).fetchall()
            applied |= {r[0] for r in rows}
        if errors:
            retry_at = [now if o.kind in LOST else now + policy.delay(o.attempt) for o in errors]
            rows = conn.execute(COMPLETE_ERROR, {
                **_claims(errors), "last": [o.kind == "fail" for o in errors], "at": retry_at,
                "err": [o.error for o in errors],
                "tb": [o.traceback for o in errors], "now": now}).fetchall()
            applied |= {r[0] for r in rows}
            failed = [r[0] for r in rows if r[1] == "failed"]
            if failed:
                self._skip_children(conn, failed, now)
            if any(r[1] == "pending" and r[2] <= now for r in rows):
                conn.execute(f"SELECT pg_notify('{CHANNEL}', '')")
        if release and applied:
            conn.execute(f"SELECT pg_notify('{CHANNEL}', '')")
        return applied

    def _skip_children(self, conn, parents: list[str], now: float, only: list[str] | None = None) -> int:
        """Skip what can no longer run because these failed, down the graph. Returns how many."""
        frontier = parents
        skipped = 0
        while frontier:
            sql = SKIP_CHILDREN.format(only="AND c.id = ANY(%(only)s)" if only is not None else "")
            rows = conn.execute(sql, {"ids": frontier, "now": now, "why": SKIPPED_ERROR, "only": only}).fetchall()
            frontier = [r[0] for r in rows if r[1] == "skipped"]
            skipped += len(frontier)
            only = None  # jobs skipped now have only children of their own batch, or none
        return skipped

    def cancel_run(self, dag_run_id: str) -> int:
        now = time.time()

        def work(conn):
            with conn.transaction():
                conn.execute("UPDATE queuack.dag_runs SET cancelled_at = %s WHERE id = %s AND cancelled_at IS NULL",
                             [now, dag_run_id])
                unclaimed = [r[0] for r in conn.execute(CANCEL_RUN, {"now": now, "run": dag_run_id})]
                return len(unclaimed) + self._skip_children(conn, unclaimed, now)

        skipped = self._run(work)
        self._notify_local()
        return skipped

    def retry_failed(self, job_id: str) -> list[str]:
        def work(conn) -> list[str] | None:
            now = time.time()
            with conn.transaction():
                if not conn.execute(RETRY_FAILED, {"id": job_id, "now": now}).fetchall():
                    return None
                descendants = conn.execute(DESCENDANTS, {"id": job_id, "why": SKIPPED_ERROR}).fetchall()
                parents: dict[str, list[tuple[str, int]]] = {}
                for child, parent, status in conn.execute(PARENT_STATUSES, {"ids": [d[0] for d in descendants]}):
                    parents.setdefault(child, []).append((parent, status))
                back = resumable(job_id, {i: (s, m, parents.get(i, [])) for i, s, m in descendants})
                if back:
                    conn.execute(RESUME, {"ids": back, "now": now})
                    conn.execute(IMPORT_READINESS, (back,))
                conn.execute(REGAIN_PARENTS, {"ids": [job_id, *back], "back": back})
                return back

        back = self._run(work)
        if back is None:
            job = self.get_job(job_id)  # JobNotFoundError for an unknown id
            raise NotADeadLetterError(job_id, job.status.value)
        self._notify_local()
        return back

    def purge(self, queue: str | None, statuses: Sequence[str], before: float) -> int:
        def work(conn):
            with conn.transaction():
                count = conn.execute(PURGE, {"st": list(statuses), "before": before, "q": queue,
                                             "now": time.time()}).fetchone()[0]
                conn.execute(PURGE_RUNS)
                return count

        count = self._run(work)
        with self._cache_lock:
            self._results.clear()
            self._results_bytes = 0
        return count

    # -- moving a queue (queuack copy) --------------------------------------------------------------
    def export_rows(self) -> Snapshot:
        def reads(conn):
            jobs = conn.execute(EXPORT_JOBS).fetchall()
            edges = conn.execute("SELECT child_id, parent_id, position FROM queuack.job_dependencies "
                                 "ORDER BY child_id, position").fetchall()
            runs = conn.execute(f"SELECT {RUN_COLUMNS} FROM queuack.dag_runs ORDER BY created_at").fetchall()
            return Snapshot(jobs, edges, runs)

        return self._snapshot(reads)

    def import_rows(self, snapshot: Snapshot) -> None:
        width = len(COPY_COLUMNS.split(","))
        jobs = [list(c) for c in zip(*snapshot.jobs)] or [[] for _ in range(width)]
        edges = [list(c) for c in zip(*snapshot.edges)] or [[], [], []]
        runs = [list(c) for c in zip(*snapshot.runs)] or [[] for _ in range(5)]

        def work(conn):
            with conn.transaction():
                conn.execute(IMPORT_JOBS, jobs)
                conn.execute(INSERT_EDGES, edges)
                conn.execute(IMPORT_RUNS, runs)
                conn.execute(IMPORT_READINESS, [jobs[0]])
                conn.execute("SELECT setval(pg_get_serial_sequence('queuack.jobs', 'seq'), "
                             "greatest((SELECT max(seq) FROM queuack.jobs), 1))")
                conn.execute(f"SELECT pg_notify('{CHANNEL}', '')")

        self._run(work)
        self._notify_local()

    # -- waiting ------------------------------------------------------------------------------------
    def next_wakeup(self) -> float | None:
        return self._query(NEXT_WAKEUP, {"now": time.time()})[0][0]

    def wait_for_work(self, timeout: float) -> None:
        self._ensure_listener()
        with self.changed:
            self.changed.wait(timeout)

    def _ensure_listener(self) -> None:
        with registry_lock:
            if self._listener is None and not self._closed:
                self._listener = threading.Thread(target=self._listen, name="queuack-pg-listener", daemon=True)
                self._listener.start()

    def _listen(self) -> None:
        """Wake waiting workers on NOTIFY. A lost connection is reopened; the Worker's polling
        covers what was missed meanwhile."""
        delay = 0.1
        while not self._closed:
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                                     application_name="queuack-listener") as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    delay = 0.1
                    self._notify_local()  # anything may have happened while not listening
                    while not self._closed:
                        if any(True for _ in conn.notifies(timeout=0.2, stop_after=1)):
                            self._notify_local()
            except psycopg.Error as exc:
                if self._closed:
                    return
                log.debug("%s: listener connection lost (%s); reconnecting", self.path, exc)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    # -- reading ------------------------------------------------------------------------------------
    def _query(self, sql: str, params=None) -> list[tuple]:
        return self._run(lambda conn: conn.execute(sql, params).fetchall())

    def _snapshot(self, reads: Callable[..., T]) -> T:
        """reads(connection) in one read-only transaction that sees one state of the database."""
        def work(conn):
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                return reads(conn)

        return self._run(work)

    def _job(self, row: tuple) -> Job:
        job = Job(*row, _store=self)
        status = JobStatus(row[5])
        job.status = JobStatus.DELAYED if status is JobStatus.PENDING and row[9] > time.time() else status
        return job

    def get_job(self, job_id: str) -> Job:
        rows = self._query(f"SELECT {JOB_COLUMNS} FROM queuack.jobs WHERE id = %s", [job_id])
        if not rows:
            raise JobNotFoundError(job_id)
        return self._job(rows[0])

    def get_jobs(self, ids: list[str]) -> list[Job]:
        by_id = {r[0]: r for r in self._query(f"SELECT {JOB_COLUMNS} FROM queuack.jobs WHERE id = ANY(%s)", [ids])}
        return [self._job(by_id[i]) for i in ids if i in by_id]

    def existing(self, ids: Iterable[str]) -> set[str]:
        return {r[0] for r in self._query("SELECT id FROM queuack.jobs WHERE id = ANY(%s)", [sorted(set(ids))])}

    def unfinished(self, ids: Iterable[str]) -> int:
        return self._query("SELECT count(*) FROM queuack.jobs WHERE id = ANY(%s) AND status IN ('pending', 'claimed')",
                           [list(ids)])[0][0]

    def results(self, ids: list[str]) -> dict[str, tuple[str, str, bytes | None, str | None]]:
        """From the cache where possible: a result never changes once its job is done (purge
        clears the cache)."""
        out = {}
        with self._cache_lock:
            for job_id in ids:
                if job_id in self._results:
                    self._results.move_to_end(job_id)
                    out[job_id] = ("done", *self._results[job_id], None)
        todo = [i for i in ids if i not in out]
        if todo:
            rows = self._query("SELECT id, status, codec, result, error FROM queuack.jobs WHERE id = ANY(%s)", [todo])
            with self._cache_lock:
                for job_id, status, codec, blob, error in rows:
                    out[job_id] = (status, codec, blob, error)
                    if status == "done" and len(blob or b"") <= _RESULT_CACHE_BYTES // 8:
                        self._results[job_id] = (codec, blob)
                        self._results_bytes += len(blob or b"")
                while self._results_bytes > _RESULT_CACHE_BYTES:
                    _, (_, old) = self._results.popitem(last=False)
                    self._results_bytes -= len(old or b"")
        return out

    def parents(self, child_ids: list[str]) -> dict[str, list[tuple[str, str | None]]]:
        out: dict[str, list[tuple[str, str | None]]] = {c: [] for c in child_ids}
        for child, parent, name in self._query(
            """SELECT d.child_id, d.parent_id, p.node_name FROM queuack.job_dependencies d
               LEFT JOIN queuack.jobs p ON p.id = d.parent_id
               WHERE d.child_id = ANY(%s) ORDER BY d.child_id, d.position""", [child_ids]):
            out[child].append((parent, name))
        return out

    def dag_nodes(self, dag_run_id: str) -> list[tuple[str, str, str]]:
        return self._query("SELECT id, node_name, status FROM queuack.jobs WHERE dag_run_id = %s ORDER BY seq",
                           [dag_run_id])

    def waiting(self, queue: str, at_most: int) -> int:
        return self._query("SELECT count(*) FROM (SELECT 1 FROM queuack.jobs WHERE queue = %s AND status = 'pending' "
                           "LIMIT %s) w", [queue, at_most])[0][0]

    def dag_run(self, dag_run_id: str) -> tuple[str, str | None, bool] | None:
        rows = self._query("SELECT name, parent_job_id, cancelled_at IS NOT NULL FROM queuack.dag_runs WHERE id = %s",
                           [dag_run_id])
        return rows[0] if rows else None

    def link_subdag(self, dag_run_id: str, parent_job_id: str) -> None:
        self._run(lambda conn: conn.execute("UPDATE queuack.dag_runs SET parent_job_id = %s WHERE id = %s",
                                            [parent_job_id, dag_run_id]))

    def subdag_runs(self, parent_job_ids: list[str]) -> dict[str, str]:
        return dict(self._query(
            """SELECT DISTINCT ON (parent_job_id) parent_job_id, id FROM queuack.dag_runs
               WHERE parent_job_id = ANY(%s) ORDER BY parent_job_id, created_at DESC""", [parent_job_ids]))

    def dag_started(self, dag_run_id: str) -> bool:
        return self._query("SELECT EXISTS (SELECT 1 FROM queuack.jobs WHERE dag_run_id = %s AND attempts > 0)",
                           [dag_run_id])[0][0]

    def dead_letters(self, limit: int) -> list[Job]:
        return [self._job(r) for r in self._query(
            f"SELECT {JOB_COLUMNS} FROM queuack.jobs WHERE status = 'failed' ORDER BY completed_at DESC LIMIT %s",
            [limit])]

    # -- the dashboard ------------------------------------------------------------------------------
    def counts(self) -> dict[str, dict[str, int]]:
        return self._snapshot(lambda conn: self._counts(conn, time.time()))[0]

    @staticmethod
    def _counts(conn, now: float) -> tuple[dict[str, dict[str, int]], int, int]:
        """(counts by queue and status, done and failed within THROUGHPUT_WINDOW): the finished jobs
        from the tallies, the unfinished ones from the rows (few, and indexed apart)."""
        tallies = conn.execute(TALLIES, {"since": now - THROUGHPUT_WINDOW}).fetchall()
        unfinished = conn.execute(UNFINISHED, {"now": now}).fetchall()
        recent = {status: sum(r[3] for r in tallies if r[1] == status) for status in ("done", "failed")}
        return counted([r[:3] for r in tallies] + unfinished), recent["done"], recent["failed"]

    def overview(self) -> Overview:
        def reads(conn):
            now = time.time()
            counts, done, failed = self._counts(conn, now)
            oldest = conn.execute(
                """SELECT id, created_at FROM queuack.jobs WHERE status = 'pending' AND remaining = 0
                   AND execute_after <= %s ORDER BY priority DESC, seq LIMIT 1""", [now]).fetchone()
            return Overview(counts, done, failed, tuple(oldest) if oldest else None)

        return self._snapshot(reads)

    def _listed_rows(self, where: JobFilter, before_seq: int | None, limit: int) -> list[dict]:
        sql, params = listing_query("queuack.jobs", where, before_seq, limit, "%({})s")
        return [listed(r) for r in self._query(sql, params)]

    def list_runs(self, before: float | None = None, limit: int = 50) -> list[RunSummary]:
        return count_runs(self._query(
            """WITH page AS (SELECT id, name, created_at, cancelled_at FROM queuack.dag_runs
                             WHERE %(before)s::double precision IS NULL OR created_at < %(before)s
                             ORDER BY created_at DESC LIMIT %(limit)s)
               SELECT p.id, p.name, p.created_at, p.cancelled_at IS NOT NULL, j.status, count(j.id)
               FROM page p LEFT JOIN queuack.jobs j ON j.dag_run_id = p.id
               GROUP BY 1, 2, 3, 4, 5 ORDER BY p.created_at DESC, p.id""", {"before": before, "limit": limit}))

    def _run_facts(self) -> RunFacts:
        def reads(conn):
            runs, cancelled = conn.execute("SELECT count(*), count(cancelled_at) FROM queuack.dag_runs").fetchone()
            failed = {r[0] for r in conn.execute(FAILED_RUNS)}
            return RunFacts(runs, cancelled, failed, {r[0]: tuple(r[1:]) for r in conn.execute(UNFINISHED_RUNS)})

        return self._snapshot(reads)

    def claim_latency(self, window: float) -> tuple[int, float]:
        count, total = self._query(
            """SELECT coalesce(sum(n), 0)::bigint, coalesce(sum(waited), 0) FROM queuack.tallies
               WHERE at > %s AND n > 0 AND status IN ('done', 'failed')""", [time.time() - window])[0]
        return count, total

    def run_graph(self, dag_run_id: str) -> RunGraph | None:
        def reads(conn):
            runs = count_runs(conn.execute(
                """SELECT r.id, r.name, r.created_at, r.cancelled_at IS NOT NULL, j.status, count(j.id)
                   FROM queuack.dag_runs r LEFT JOIN queuack.jobs j ON j.dag_run_id = r.id WHERE r.id = %s
                   GROUP BY 1, 2, 3, 4, 5""", [dag_run_id]).fetchall())
            if not runs:
                return None
            nodes = [listed(r) for r in conn.execute(
                f"SELECT {LISTED_COLUMNS} FROM queuack.jobs WHERE dag_run_id = %s ORDER BY seq", [dag_run_id])]
            edges = conn.execute(
                """SELECT d.child_id, d.parent_id FROM queuack.job_dependencies d
                   JOIN queuack.jobs c ON c.id = d.child_id WHERE c.dag_run_id = %s
                   ORDER BY c.seq, d.position""", [dag_run_id]).fetchall()
            return RunGraph(runs[0], nodes, [tuple(e) for e in edges])

        return self._snapshot(reads)


def _jobs_newest(conn) -> None:
    """Version 1 -> 2: the dashboard's job pages (newest first, keyset on seq) read an index."""
    conn.execute("CREATE INDEX IF NOT EXISTS jobs_newest ON queuack.jobs (seq)")


def _claim_tokens(conn) -> None:
    """Version 2 -> 3: claims are named by a token, and charged once their job starts. A claim taken
    by an older queuack was charged when it was taken: it stays charged."""
    conn.execute("""ALTER TABLE queuack.jobs ADD COLUMN IF NOT EXISTS claim_token bigint,
                        ADD COLUMN IF NOT EXISTS charged boolean NOT NULL DEFAULT false,
                        ADD COLUMN IF NOT EXISTS lost integer NOT NULL DEFAULT 0""")
    conn.execute("UPDATE queuack.jobs SET charged = true WHERE status = 'claimed'")


def _tallies(conn) -> None:
    """Version 3 -> 4: the finished jobs counted by queue and status in queuack.tallies, and the
    index of the pending jobs that wait for parents. Every process that writes to the queue must
    run this version or a later one from then on: an older one would finish jobs uncounted."""
    conn.execute("""CREATE TABLE IF NOT EXISTS queuack.tallies (
                        queue text NOT NULL, status text NOT NULL, n bigint NOT NULL,
                        waited double precision NOT NULL DEFAULT 0, at double precision NOT NULL)""")
    conn.execute("CREATE INDEX IF NOT EXISTS jobs_waiting ON queuack.jobs (queue) "
                 "WHERE status = 'pending' AND remaining > 0")
    count_finished(conn)


def count_finished(conn) -> None:
    """Count the stored finished jobs into queuack.tallies afresh (the jobs finished within the
    throughput window at their own time), in the caller's transaction: for the upgrade to version
    4, and after rows were written by other means than queuack (the dashboard's benchmark does)."""
    conn.execute("DELETE FROM queuack.tallies")
    conn.execute("""INSERT INTO queuack.tallies (queue, status, n, waited, at)
                    SELECT queue, status, count(*),
                           coalesce(sum(claimed_at - greatest(created_at, execute_after))
                                    FILTER (WHERE status IN ('done', 'failed')), 0),
                           CASE WHEN completed_at > %s THEN completed_at ELSE 0 END
                    FROM queuack.jobs WHERE status IN ('done', 'failed', 'skipped') GROUP BY 1, 2, 5""",
                 [time.time() - THROUGHPUT_WINDOW])


_UPGRADES = {1: _jobs_newest, 2: _claim_tokens, 3: _tallies}


def describe_safely(url: str) -> str:
    try:
        return describe(url) if psycopg is not None else url.split("@")[-1]
    except Exception:
        return "the URL"
