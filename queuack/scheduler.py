"""The in-memory schedule of one queue database: which unfinished job may run next.

The process that owns a DuckDB file is its only writer, so which job is ready, which parents a job
still waits for and whose lease runs out when can be derived from the rows once, at open, and then
kept here. The Store writes every change to the database first and then tells the scheduler, so the
scheduler never touches SQL and can be tested on its own (tests/runtime/test_scheduler.py).

A job moves through four phases:

    waiting (for parents) -> delayed (until execute_after) -> ready -> claimed
                                     ^                                  |
                                     +--- retried / released -----------+

and leaves the schedule when it finishes (done, failed or skipped). Ready jobs sit in one heap per
queue, ordered by priority (higher first) and then by seq (first in, first out); delayed jobs in one
heap by time; claims in one heap by lease expiry. Heap entries are never removed in place: an entry
whose job has moved on is stale and is dropped when it surfaces.

A claim is "in memory" (not durable) until the Store has written it to the file; readers in this
process report it as claimed all the same (see Store._job).

Not thread-safe on its own: the Store calls it with its lock held.
"""

from __future__ import annotations

import heapq
from typing import Iterable, Sequence

WAITING, DELAYED, READY, CLAIMED = "waiting", "delayed", "ready", "claimed"


def gate(mode: str, parents: Iterable[tuple[str, str]]) -> tuple[list[str], bool, bool]:
    """How a job stands with its parents, given (parent id, parent status) pairs: (the parents it
    still waits for, whether one of them already succeeded, whether it can never run and is
    skipped at birth). An "all" job is skipped when a parent failed or was skipped; an "any" job
    when no parent succeeded and none can still succeed."""
    waiting_on: list[str] = []
    satisfied = dead = False
    count = 0
    for parent, status in parents:
        count += 1
        if status == "done":
            satisfied = True
        elif status in ("failed", "skipped"):
            dead = True
        else:
            waiting_on.append(parent)
    if mode == "any" and count:
        return waiting_on, satisfied, not satisfied and not waiting_on
    return waiting_on, satisfied, dead


class _Job:
    __slots__ = ("queue", "priority", "seq", "execute_after", "phase", "mode", "remaining", "alive",
                 "attempt", "max_attempts", "lease", "durable", "claimed_by", "claimed_at")

    def __init__(self, queue, priority, seq, execute_after, mode, max_attempts, attempt):
        self.queue = queue
        self.priority = priority
        self.seq = seq
        self.execute_after = execute_after
        self.mode = mode
        self.max_attempts = max_attempts
        self.attempt = attempt  # attempts counted so far, including a claim in progress
        self.phase = WAITING
        self.remaining = 0  # parents not done yet
        self.alive = 0  # parents that can still succeed
        self.lease = 0.0
        self.durable = True  # False while a claim exists only in memory
        self.claimed_by: str | None = None
        self.claimed_at: float | None = None


class Scheduler:
    """The schedule: add jobs, take ready ones, and follow their outcomes."""

    def __init__(self) -> None:
        self._jobs: dict[str, _Job] = {}
        self._children: dict[str, list[str]] = {}  # unfinished parent -> children waiting for it
        self._ready: dict[str, list[tuple[int, int, str]]] = {}  # queue -> heap of (-priority, seq, id)
        self._delayed: list[tuple[float, int, str]] = []
        self._leases: list[tuple[float, str, int]] = []

    # -- adding --------------------------------------------------------------------------------
    def add(self, job_id: str, queue: str, priority: int, seq: int, execute_after: float, mode: str,
            max_attempts: int, now: float, waiting_on: Sequence[str] = (), satisfied: bool = False,
            attempts: int = 0, claimed: bool = False) -> bool:
        """Add an unfinished job; True when it has no parent left to wait for.

        waiting_on: its unfinished parents; satisfied: one parent has already succeeded (which is
        enough for an "any" job). claimed=True restores a claim found in the file (a durable one,
        left by a process that is gone) with `attempts` counted.
        """
        job = self._jobs[job_id] = _Job(queue, priority, seq, execute_after, mode, max_attempts, attempts)
        job.alive = len(waiting_on)
        job.remaining = 0 if mode == "any" and satisfied else len(waiting_on)
        for parent in waiting_on:
            self._children.setdefault(parent, []).append(job_id)
        if claimed:
            job.phase = CLAIMED
            return False
        if job.remaining == 0:
            self._make_runnable(job_id, job, now)
            return True
        return False

    def __contains__(self, job_id: str) -> bool:
        return job_id in self._jobs

    def __len__(self) -> int:
        return len(self._jobs)

    def unfinished(self, ids: Iterable[str]) -> int:
        return sum(1 for i in ids if i in self._jobs)

    # -- time -------------------------------------------------------------------------------------
    def promote_due(self, now: float) -> None:
        """Delayed jobs whose time has come become ready."""
        delayed = self._delayed
        while delayed and delayed[0][0] <= now:
            after, _, job_id = heapq.heappop(delayed)
            job = self._jobs.get(job_id)
            if job is not None and job.phase == DELAYED and job.execute_after == after:
                self._push_ready(job_id, job)

    def expired(self, now: float) -> list[tuple[str, int]]:
        """(id, attempt) of the claims whose lease has run out by `now` (each reported once)."""
        leases = self._leases
        out = []
        while leases and leases[0][0] <= now:
            lease, job_id, attempt = heapq.heappop(leases)
            job = self._jobs.get(job_id)
            if job is not None and job.phase == CLAIMED and job.attempt == attempt and job.lease == lease:
                out.append((job_id, attempt))
        return out

    def next_wakeup(self) -> float | None:
        """When time alone will make work claimable (a delay ends, a lease runs out), or None."""
        times = [heap[0][0] for heap in (self._delayed, self._leases) if heap]
        return min(times) if times else None

    # -- claiming ---------------------------------------------------------------------------------
    def take(self, queues: Sequence[str] | None, n: int, worker_id: str, lease: float, now: float,
             only: set[str] | None = None) -> list[tuple[str, int, float]]:
        """Claim up to n ready jobs in memory (only those in `only`, when given): queues in the given
        order, or with None all queues by priority then FIFO. Returns (id, attempt, execute_after)."""
        picked = self._pick(queues, n, only)
        out = []
        for job_id in picked:
            job = self._jobs[job_id]
            job.attempt += 1
            job.lease, job.claimed_by, job.claimed_at, job.durable = lease, worker_id, now, False
            heapq.heappush(self._leases, (lease, job_id, job.attempt))
            out.append((job_id, job.attempt, job.execute_after))
        return out

    def untake(self, ids: Iterable[str], now: float) -> None:
        """Undo take() for these jobs (the claim could not be completed)."""
        for job_id in ids:
            job = self._jobs.get(job_id)
            if job is not None and job.phase == CLAIMED:
                job.attempt -= 1
                job.durable, job.claimed_by = True, None
                self._make_runnable(job_id, job, now)

    def _pick(self, queues: Sequence[str] | None, n: int, only: set[str] | None) -> list[str]:
        picked: list[str] = []
        passed_over: list[tuple[list, tuple]] = []  # ready jobs outside `only`: put back afterwards
        names = list(self._ready) if queues is None else [q for q in queues if q in self._ready]
        if queues is None:
            heaps = [self._ready[q] for q in names]
            while len(picked) < n:
                heaps = [h for h in heaps if h]
                if not heaps:
                    break
                self._take_one(min(heaps, key=lambda h: h[0]), picked, only, passed_over)
        else:
            for name in names:
                heap = self._ready[name]
                while heap and len(picked) < n:
                    self._take_one(heap, picked, only, passed_over)
        for heap, entry in passed_over:
            heapq.heappush(heap, entry)
        return picked

    def _take_one(self, heap: list, picked: list[str], only, passed_over) -> None:
        entry = heapq.heappop(heap)
        job_id = entry[2]
        job = self._jobs.get(job_id)
        if job is None or job.phase != READY:
            return  # stale entry
        if only is not None and job_id not in only:
            passed_over.append((heap, entry))
            return
        job.phase = CLAIMED
        picked.append(job_id)

    def owns(self, job_id: str, attempt: int) -> bool:
        """True when this is the job's current claim."""
        job = self._jobs.get(job_id)
        return job is not None and job.phase == CLAIMED and job.attempt == attempt

    def is_claimed(self, job_id: str) -> bool:
        job = self._jobs.get(job_id)
        return job is not None and job.phase == CLAIMED

    def is_durable(self, job_id: str) -> bool:
        """False while the job's claim exists only in memory."""
        return self._jobs[job_id].durable

    def memory_claim(self, job_id: str) -> tuple[int, str | None, float | None] | None:
        """(attempt, worker, claimed at) of a claim that so far lives only in memory, else None."""
        job = self._jobs.get(job_id)
        if job is None or job.phase != CLAIMED or job.durable:
            return None
        return job.attempt, job.claimed_by, job.claimed_at

    def memory_claims(self, ids: Iterable[str] | None = None) -> list[tuple[str, int, str | None, float | None, float]]:
        """(id, attempt, worker, claimed at, lease) of the in-memory claims (among `ids`, when given)."""
        jobs = self._jobs
        todo = jobs.items() if ids is None else ((i, jobs[i]) for i in ids if i in jobs)
        return [(i, j.attempt, j.claimed_by, j.claimed_at, j.lease) for i, j in todo
                if j.phase == CLAIMED and not j.durable]

    def waiting(self, queue: str, at_most: int) -> int:
        """Unclaimed jobs of `queue` (waiting for parents, delayed or ready), counted up to at_most."""
        count = 0
        for job in self._jobs.values():
            if job.queue == queue and job.phase != CLAIMED:
                count += 1
                if count >= at_most:
                    break
        return count

    def count_memory_claims(self, queue: str | None = None) -> int:
        return sum(1 for j in self._jobs.values()
                   if j.phase == CLAIMED and not j.durable and (queue is None or j.queue == queue))

    def mark_durable(self, ids: Iterable[str]) -> None:
        """These claims are now written to the file."""
        for job_id in ids:
            self._jobs[job_id].durable = True

    def claimed(self) -> list[tuple[str, int]]:
        """(id, attempt) of every claimed job."""
        return [(i, j.attempt) for i, j in self._jobs.items() if j.phase == CLAIMED]

    def renew(self, claims: Iterable[tuple[str, int]], lease: float) -> None:
        """Move the lease of these current claims to `lease`."""
        for job_id, attempt in claims:
            self._jobs[job_id].lease = lease
            heapq.heappush(self._leases, (lease, job_id, attempt))

    # -- outcomes ---------------------------------------------------------------------------------
    def max_attempts(self, job_id: str) -> int:
        return self._jobs[job_id].max_attempts

    def has_children(self, job_id: str) -> bool:
        """True when unfinished jobs wait for this one."""
        return job_id in self._children

    def retry(self, job_id: str, execute_after: float, now: float) -> None:
        """A claimed job runs again from `execute_after`; its attempt stays counted."""
        job = self._jobs[job_id]
        job.durable, job.claimed_by, job.execute_after = True, None, execute_after
        self._make_runnable(job_id, job, now)

    def release(self, job_id: str, now: float) -> None:
        """A claimed job goes back as it was: its attempt does not count."""
        job = self._jobs[job_id]
        job.durable, job.claimed_by = True, None
        job.attempt -= 1
        self._make_runnable(job_id, job, now)

    def doomed_by(self, failed: list[str]) -> tuple[list[str], dict[str, int]]:
        """What follows from these jobs failing, without changing anything yet: the children (and
        theirs, down the graph) that can no longer run and are skipped, and for "any" children that
        live on, how many of their parents can no longer succeed. An "all" child is skipped; an
        "any" child only when no parent can still succeed."""
        skipped: list[str] = []
        doomed = set()
        alive_lost: dict[str, int] = {}
        stack = list(failed)
        while stack:
            parent = stack.pop()
            for child in self._children.get(parent, ()):
                job = self._jobs.get(child)
                if job is None or job.phase != WAITING or child in doomed:
                    continue
                if job.mode == "any":
                    alive_lost[child] = alive_lost.get(child, 0) + 1
                    if job.alive - alive_lost[child] > 0:
                        continue
                doomed.add(child)
                skipped.append(child)
                stack.append(child)
        return skipped, {c: n for c, n in alive_lost.items() if c not in doomed}

    def lose_parents(self, alive_lost: dict[str, int]) -> None:
        """Apply the second half of doomed_by(): these "any" children have fewer live parents."""
        for child, lost in alive_lost.items():
            job = self._jobs.get(child)
            if job is not None:
                job.alive -= lost

    def finish(self, job_id: str, succeeded: bool, now: float) -> bool:
        """Drop a finished job (done, failed or skipped) and count it off its waiting children.
        True if a child became runnable."""
        self._jobs.pop(job_id, None)
        woke = False
        for child in self._children.pop(job_id, ()):
            job = self._jobs.get(child)
            if job is None or job.phase != WAITING:
                continue
            if succeeded:
                job.remaining -= 1
                if job.mode == "any" or job.remaining == 0:
                    job.remaining = 0
                    self._make_runnable(child, job, now)
                    woke = True
        return woke

    # -- heaps ------------------------------------------------------------------------------------
    def _make_runnable(self, job_id: str, job: _Job, now: float) -> None:
        if job.execute_after > now:
            job.phase = DELAYED
            heapq.heappush(self._delayed, (job.execute_after, job.seq, job_id))
        else:
            self._push_ready(job_id, job)

    def _push_ready(self, job_id: str, job: _Job) -> None:
        job.phase = READY
        heapq.heappush(self._ready.setdefault(job.queue, []), (-job.priority, job.seq, job_id))
