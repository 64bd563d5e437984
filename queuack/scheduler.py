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

Memory: a million pending jobs must not cost gigabytes, so nothing here is an object per job.
Each job has a slot number into parallel arrays (seq, priority, queue number, execute_after,
attempts, phase); a heap entry is one int that packs its sort key, the seq and the slot; the index
from job id to slot keeps a canonical UUID id as a 128-bit int (half the size of the string), and
its value is the job's current heap entry (whose low bits are the slot), so it costs no int of its
own. Parent counts, claim details and children lists exist only for the jobs that have them. That
comes to about 190 bytes of Python objects per pending job (the dict's share, the key, the heap
entry and the arrays); benchmarks/memory_bench.py measures the process as a whole.

Not thread-safe on its own: the Store calls it with its lock held.
"""

from __future__ import annotations

import heapq
from array import array
from typing import Iterable, Sequence

FREE, WAITING, DELAYED, READY, CLAIMED = range(5)
_SLOT_BITS, _SEQ_BITS = 32, 64
_SLOT = (1 << _SLOT_BITS) - 1
_SEQ = (1 << _SEQ_BITS) - 1
_KEY_SHIFT = _SLOT_BITS + _SEQ_BITS
_TOP_PRIORITY = 1 << 63  # ready entries sort by _TOP_PRIORITY - priority: higher priority first


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


def _key(job_id: str) -> int | str:
    """The id as the index keeps it: a canonical UUID string as its 128-bit int, anything else as is."""
    if len(job_id) == 36 and job_id[8] == job_id[13] == job_id[18] == job_id[23] == "-":
        digits = job_id.replace("-", "")
        # lower-case ASCII hex and nothing else, so that _id() gives back the same string
        if len(digits) == 32 and digits.isascii() and digits.isalnum() and (digits.islower() or digits.isdigit()):
            try:
                return int(digits, 16)
            except ValueError:  # letters beyond f
                pass
    return job_id


def _id(key: int | str) -> str:
    if isinstance(key, str):
        return key
    h = f"{key:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _entry(sort_key: int, seq: int, slot: int) -> int:
    return (sort_key << _KEY_SHIFT) | (seq << _SLOT_BITS) | slot


class _Claim:
    __slots__ = ("lease", "worker", "at", "durable")

    def __init__(self, lease: float, worker: str | None, at: float | None, durable: bool):
        self.lease, self.worker, self.at, self.durable = lease, worker, at, durable


class Scheduler:
    """The schedule: add jobs, take ready ones, and follow their outcomes."""

    def __init__(self) -> None:
        # one slot per unfinished job; a finished job's slot is reused
        self._keys: list[int | str | None] = []
        self._seq = array("q")
        self._priority = array("q")
        self._queue = array("I")  # index into _queue_names
        self._after = array("d")  # execute_after, unix seconds
        self._attempt = array("i")  # attempts counted so far, including a claim in progress
        self._max_attempts = array("i")
        self._phase = bytearray()
        self._any = bytearray()  # 1: dependency mode "any"
        self._free = array("I")
        self._index: dict[int | str, int] = {}  # key -> the job's heap entry (or slot): low bits are the slot
        self._queue_names: list[str] = []
        self._queue_numbers: dict[str, int] = {}
        self._queue_sizes = array("q")  # unfinished jobs per queue number
        # only for the jobs that have them
        self._parents_left: dict[int, list[int]] = {}  # slot -> [parents not done yet, parents that can still succeed]
        self._children: dict[int | str, list[int | str]] = {}  # unfinished parent key -> waiting children's keys
        self._claims: dict[int, _Claim] = {}  # slot -> claim
        # heaps of packed entries: ready per queue number; delayed; leases as (lease, slot, seq, attempt)
        self._ready: dict[int, list[int]] = {}
        self._delayed: list[int] = []
        self._leases: list[tuple[float, int, int, int]] = []

    # -- adding --------------------------------------------------------------------------------
    def add(self, job_id: str, queue: str, priority: int, seq: int, execute_after: float, mode: str,
            max_attempts: int, now: float, waiting_on: Sequence[str] = (), satisfied: bool = False,
            attempts: int = 0, claimed: bool = False) -> bool:
        """Add an unfinished job; True when it has no parent left to wait for.

        waiting_on: its unfinished parents; satisfied: one parent has already succeeded (which is
        enough for an "any" job). claimed=True restores a claim found in the file (a durable one,
        left by a process that is gone) with `attempts` counted.
        """
        key = _key(job_id)
        if key in self._index:
            raise ValueError(f"job {job_id} is already scheduled")
        slot = self._allocate(key, queue, priority, seq, execute_after, mode, max_attempts, attempts)
        self._index[key] = slot
        if waiting_on:
            remaining = 0 if mode == "any" and satisfied else len(waiting_on)
            if remaining:
                self._parents_left[slot] = [remaining, len(waiting_on)]
            for parent in waiting_on:
                self._children.setdefault(_key(parent), []).append(key)
        if claimed:
            self._phase[slot] = CLAIMED
            self._claims[slot] = _Claim(0.0, None, None, True)
            return False
        if slot in self._parents_left:
            self._phase[slot] = WAITING
            return False
        self._make_runnable(key, slot, now)
        return True

    def _allocate(self, key, queue, priority, seq, execute_after, mode, max_attempts, attempts) -> int:
        number = self._queue_numbers.get(queue)
        if number is None:
            number = self._queue_numbers[queue] = len(self._queue_names)
            self._queue_names.append(queue)
            self._queue_sizes.append(0)
        self._queue_sizes[number] += 1
        if self._free:
            slot = self._free.pop()
            self._keys[slot], self._seq[slot], self._priority[slot], self._queue[slot] = key, seq, priority, number
            self._after[slot], self._attempt[slot], self._max_attempts[slot] = execute_after, attempts, max_attempts
            self._phase[slot], self._any[slot] = WAITING, mode == "any"
            return slot
        self._keys.append(key)
        self._seq.append(seq)
        self._priority.append(priority)
        self._queue.append(number)
        self._after.append(execute_after)
        self._attempt.append(attempts)
        self._max_attempts.append(max_attempts)
        self._phase.append(WAITING)
        self._any.append(mode == "any")
        return len(self._keys) - 1

    def _slot(self, job_id: str) -> int | None:
        value = self._index.get(_key(job_id))
        return None if value is None else value & _SLOT

    def __contains__(self, job_id: str) -> bool:
        return _key(job_id) in self._index

    def __len__(self) -> int:
        return len(self._index)

    def unfinished(self, ids: Iterable[str]) -> int:
        return sum(1 for i in ids if _key(i) in self._index)

    # -- time -------------------------------------------------------------------------------------
    def promote_due(self, now: float) -> None:
        """Delayed jobs whose time has come become ready."""
        delayed, limit = self._delayed, int(now * 1e6)
        while delayed and delayed[0] >> _KEY_SHIFT <= limit:
            slot = self._valid(heapq.heappop(delayed), DELAYED)
            if slot is not None:
                self._push_ready(self._keys[slot], slot)

    def expired(self, now: float) -> list[tuple[str, int]]:
        """(id, attempt) of the claims whose lease has run out by `now` (each reported once)."""
        leases = self._leases
        out = []
        while leases and leases[0][0] <= now:
            lease, slot, seq, attempt = heapq.heappop(leases)
            claim = self._claims.get(slot)
            if claim is not None and claim.lease == lease and self._seq[slot] == seq and self._attempt[slot] == attempt:
                out.append((_id(self._keys[slot]), attempt))
        return out

    def next_wakeup(self) -> float | None:
        """When time alone will make work claimable (a delay ends, a lease runs out), or None."""
        times = []
        if self._delayed:
            times.append((self._delayed[0] >> _KEY_SHIFT) / 1e6)
        if self._leases:
            times.append(self._leases[0][0])
        return min(times) if times else None

    # -- claiming ---------------------------------------------------------------------------------
    def take(self, queues: Sequence[str] | None, n: int, worker_id: str, lease: float, now: float,
             only: set[str] | None = None) -> list[tuple[str, int, int, float]]:
        """Claim up to n ready jobs in memory (only those in `only`, when given): queues in the given
        order, or with None all queues by priority then FIFO. Returns (id, seq, attempt, execute_after)."""
        out = []
        for slot in self._pick(queues, n, only):
            self._attempt[slot] += 1
            seq, attempt = self._seq[slot], self._attempt[slot]
            self._claims[slot] = _Claim(lease, worker_id, now, False)
            heapq.heappush(self._leases, (lease, slot, seq, attempt))
            out.append((_id(self._keys[slot]), seq, attempt, self._after[slot]))
        return out

    def untake(self, ids: Iterable[str], now: float) -> None:
        """Undo take() for these jobs (the claim could not be completed)."""
        for job_id in ids:
            slot = self._slot(job_id)
            if slot is not None and self._phase[slot] == CLAIMED:
                self._attempt[slot] -= 1
                self._requeue(slot, now)

    def _pick(self, queues: Sequence[str] | None, n: int, only: set[str] | None) -> list[int]:
        picked: list[int] = []
        passed_over: list[tuple[list, int]] = []  # ready jobs outside `only`: put back afterwards
        if queues is None:
            heaps = list(self._ready.values())
            while len(picked) < n:
                heaps = [h for h in heaps if h]
                if not heaps:
                    break
                self._take_one(min(heaps, key=lambda h: h[0]), picked, only, passed_over)
        else:
            for name in queues:
                heap = self._ready.get(self._queue_numbers.get(name, -1))
                while heap and len(picked) < n:
                    self._take_one(heap, picked, only, passed_over)
        for heap, entry in passed_over:
            heapq.heappush(heap, entry)
        return picked

    def _take_one(self, heap: list[int], picked: list[int], only, passed_over) -> None:
        entry = heapq.heappop(heap)
        slot = self._valid(entry, READY)
        if slot is None:
            return
        if only is not None and _id(self._keys[slot]) not in only:
            passed_over.append((heap, entry))
            return
        self._phase[slot] = CLAIMED
        picked.append(slot)

    def _claim_of(self, job_id: str) -> tuple[int, _Claim] | tuple[None, None]:
        slot = self._slot(job_id)
        claim = None if slot is None else self._claims.get(slot)
        return (slot, claim) if claim is not None else (None, None)

    def owns(self, job_id: str, attempt: int) -> bool:
        """True when this is the job's current claim."""
        slot, _ = self._claim_of(job_id)
        return slot is not None and self._attempt[slot] == attempt

    def is_claimed(self, job_id: str) -> bool:
        _, claim = self._claim_of(job_id)
        return claim is not None

    def is_durable(self, job_id: str) -> bool:
        """False while the job's claim exists only in memory."""
        _, claim = self._claim_of(job_id)
        return claim is None or claim.durable

    def memory_claim(self, job_id: str) -> tuple[int, str | None, float | None] | None:
        """(attempt, worker, claimed at) of a claim that so far lives only in memory, else None."""
        slot, claim = self._claim_of(job_id)
        if claim is None or claim.durable:
            return None
        return self._attempt[slot], claim.worker, claim.at

    def memory_claims(self, ids: Iterable[str] | None = None) -> list[tuple[str, int, str | None, float | None, float]]:
        """(id, attempt, worker, claimed at, lease) of the in-memory claims (among `ids`, when given)."""
        if ids is None:
            todo = [(_id(self._keys[slot]), slot, c) for slot, c in self._claims.items()]
        else:
            todo = [(i, *self._claim_of(i)) for i in ids]
        return [(i, self._attempt[slot], c.worker, c.at, c.lease) for i, slot, c in todo
                if c is not None and not c.durable]

    def waiting(self, queue: str, at_most: int) -> int:
        """Unclaimed jobs of `queue` (waiting for parents, delayed or ready), counted up to at_most."""
        number = self._queue_numbers.get(queue)
        if number is None:
            return 0
        claimed = sum(1 for slot in self._claims if self._queue[slot] == number)
        return min(at_most, self._queue_sizes[number] - claimed)

    def count_memory_claims(self, queue: str | None = None) -> int:
        number = None if queue is None else self._queue_numbers.get(queue, -1)
        return sum(1 for slot, c in self._claims.items()
                   if not c.durable and (number is None or self._queue[slot] == number))

    def mark_durable(self, ids: Iterable[str]) -> None:
        """These claims are now written to the file."""
        for job_id in ids:
            _, claim = self._claim_of(job_id)
            if claim is not None:
                claim.durable = True

    def claimed(self) -> list[tuple[str, int]]:
        """(id, attempt) of every claimed job."""
        return [(_id(self._keys[slot]), self._attempt[slot]) for slot in self._claims]

    def renew(self, claims: Iterable[tuple[str, int]], lease: float) -> None:
        """Move the lease of these current claims to `lease`."""
        for job_id, attempt in claims:
            slot, claim = self._claim_of(job_id)
            if claim is not None:
                claim.lease = lease
                heapq.heappush(self._leases, (lease, slot, self._seq[slot], attempt))

    # -- outcomes ---------------------------------------------------------------------------------
    def max_attempts(self, job_id: str) -> int:
        return self._max_attempts[self._slot(job_id)]

    def has_children(self, job_id: str) -> bool:
        """True when unfinished jobs wait for this one."""
        return _key(job_id) in self._children

    def retry(self, job_id: str, execute_after: float, now: float) -> None:
        """A claimed job runs again from `execute_after`; its attempt stays counted."""
        slot = self._slot(job_id)
        self._after[slot] = execute_after
        self._requeue(slot, now)

    def release(self, job_id: str, now: float) -> None:
        """A claimed job goes back as it was: its attempt does not count."""
        slot = self._slot(job_id)
        self._attempt[slot] -= 1
        self._requeue(slot, now)

    def _requeue(self, slot: int, now: float) -> None:
        del self._claims[slot]
        self._make_runnable(self._keys[slot], slot, now)

    def doomed_by(self, failed: list[str]) -> tuple[list[str], dict[str, int]]:
        """What follows from these jobs failing, without changing anything yet: the children (and
        theirs, down the graph) that can no longer run and are skipped, and for "any" children that
        live on, how many of their parents can no longer succeed. An "all" child is skipped; an
        "any" child only when no parent can still succeed."""
        skipped: list[str] = []
        doomed = set()
        alive_lost: dict[int | str, int] = {}
        stack = [_key(i) for i in failed]
        while stack:
            parent = stack.pop()
            for child in self._children.get(parent, ()):
                slot = self._waiting(child)
                if slot is None or child in doomed:
                    continue
                if self._any[slot]:
                    alive_lost[child] = alive_lost.get(child, 0) + 1
                    if self._parents_left[slot][1] - alive_lost[child] > 0:
                        continue
                doomed.add(child)
                skipped.append(_id(child))
                stack.append(child)
        return skipped, {_id(c): n for c, n in alive_lost.items() if c not in doomed}

    def lose_parents(self, alive_lost: dict[str, int]) -> None:
        """Apply the second half of doomed_by(): these "any" children have fewer live parents."""
        for child, lost in alive_lost.items():
            slot = self._waiting(_key(child))
            if slot is not None:
                self._parents_left[slot][1] -= lost

    def finish(self, job_id: str, succeeded: bool, now: float) -> bool:
        """Drop a finished job (done, failed or skipped) and count it off its waiting children.
        True if a child became runnable."""
        key = _key(job_id)
        value = self._index.pop(key, None)
        if value is not None:
            slot = value & _SLOT
            self._keys[slot] = None
            self._queue_sizes[self._queue[slot]] -= 1
            self._phase[slot] = FREE
            self._claims.pop(slot, None)
            self._parents_left.pop(slot, None)
            self._free.append(slot)
        woke = False
        for child in self._children.pop(key, ()):
            slot = self._waiting(child)
            if slot is None or not succeeded:
                continue
            left = self._parents_left[slot]
            left[0] -= 1
            if self._any[slot] or left[0] == 0:
                del self._parents_left[slot]
                self._make_runnable(child, slot, now)
                woke = True
        return woke

    def _waiting(self, key: int | str) -> int | None:
        """The slot of a job that waits for parents, or None."""
        value = self._index.get(key)
        if value is None or self._phase[value & _SLOT] != WAITING:
            return None
        return value & _SLOT

    # -- heaps ------------------------------------------------------------------------------------
    def _make_runnable(self, key: int | str, slot: int, now: float) -> None:
        after = self._after[slot]
        if after > now:
            self._phase[slot] = DELAYED
            entry = self._index[key] = _entry(int(after * 1e6), self._seq[slot], slot)
            heapq.heappush(self._delayed, entry)
        else:
            self._push_ready(key, slot)

    def _push_ready(self, key: int | str, slot: int) -> None:
        self._phase[slot] = READY
        entry = self._index[key] = _entry(_TOP_PRIORITY - self._priority[slot], self._seq[slot], slot)
        heapq.heappush(self._ready.setdefault(self._queue[slot], []), entry)

    def _valid(self, entry: int, phase: int) -> int | None:
        """The slot of a heap entry that still stands for its job in this phase, or None (stale)."""
        slot = entry & _SLOT
        if self._phase[slot] != phase or self._seq[slot] != (entry >> _SLOT_BITS) & _SEQ:
            return None
        return slot
