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
attempts, phase), and a heap entry is one int that packs its sort key, the seq and the slot. Job
ids are found without a dict: a canonical UUID id is kept as its 16 bytes in one bytearray, and an
open-addressing hash table (an array of slot numbers) leads from an id to its slot (_Ids). A dict
of str keys would cost about 140 bytes a job by itself. Parent counts and children lists exist
only for the jobs that have them, and claim details only for claimed jobs (keyed by id, so that
acknowledging needs no lookup in the table). About 120 bytes of Python objects per pending job at a
million (tracemalloc); benchmarks/memory_bench.py measures the whole process.

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


def resumable(retried: str, graph: dict[str, tuple[str, str, list[tuple[str, str]]]]) -> list[str]:
    """The descendants of a retried dead letter that run again with it, parents before children.

    graph: {descendant id: (its status, its dependency mode, [(parent id, parent status), ...])},
    where the status "skipped" means skipped because a parent failed (a job skipped for another
    reason, a cancelled run, must be given another status). Such a descendant comes back when,
    with the retried job and the descendants already coming back counted as pending, gate() would
    no longer skip it.
    """
    status = {retried: "pending"}
    back: list[str] = []
    changed = True
    while changed:
        changed = False
        for job_id, (own, mode, parents) in graph.items():
            if own != "skipped" or job_id in status:
                continue
            current = [(p, status.get(p, s)) for p, s in parents]
            if not gate(mode, current)[2]:
                status[job_id] = "pending"
                back.append(job_id)
                changed = True
    return back


def _uuid_bytes(job_id: str) -> bytes | None:
    """The 16 bytes of a canonical (lower-case) UUID string, or None for any other id."""
    if len(job_id) == 36 and job_id[8] == job_id[13] == job_id[18] == job_id[23] == "-":
        digits = job_id.replace("-", "")
        if len(digits) == 32 and digits.isascii() and digits.isalnum() and (digits.islower() or digits.isdigit()):
            try:
                return bytes.fromhex(digits)
            except ValueError:  # letters beyond f
                pass
    return None


_EMPTY, _GONE = -1, -2  # cells of the hash table that hold no slot


class _Ids:
    """Job id <-> slot. A canonical UUID id is kept as 16 bytes at 16 * slot in one bytearray, and
    found through an open-addressing hash table of slot numbers (linear probing; a removed id
    leaves a _GONE cell until the next rebuild). Any other id goes to a plain dict."""

    def __init__(self) -> None:
        self._bytes = bytearray()
        self._table = array("i", [_EMPTY]) * 8
        self._used = 0  # cells that are not _EMPTY
        self._live = 0
        self._other: dict[str, int] = {}  # id -> slot, for ids that are not canonical UUIDs
        self._other_ids: dict[int, str] = {}  # slot -> such an id

    def _cell(self, raw: bytes) -> int | None:
        """The table cell that holds this id, or None."""
        table, data = self._table, self._bytes
        mask = len(table) - 1
        cell = hash(raw) & mask
        while True:
            slot = table[cell]
            if slot == _EMPTY:
                return None
            if slot >= 0 and data[16 * slot:16 * slot + 16] == raw:
                return cell
            cell = (cell + 1) & mask

    def find(self, job_id: str) -> int | None:
        raw = _uuid_bytes(job_id)
        if raw is None:
            return self._other.get(job_id)
        cell = self._cell(raw)
        return None if cell is None else self._table[cell]

    def insert(self, job_id: str, slot: int) -> bool:
        """Add an id at this slot; False (and nothing changed) when the id is there already."""
        raw = _uuid_bytes(job_id)
        if raw is None:
            if job_id in self._other:
                return False
            self._other[job_id], self._other_ids[slot] = slot, job_id
            return True
        if (self._used + 1) * 2 > len(self._table):
            self._rebuild()
        table, data = self._table, self._bytes
        mask = len(table) - 1
        cell, free = hash(raw) & mask, None
        while (found := table[cell]) != _EMPTY:  # the whole chain: the id may sit behind a _GONE cell
            if found == _GONE:
                free = cell if free is None else free
            elif data[16 * found:16 * found + 16] == raw:
                return False
            cell = (cell + 1) & mask
        at = 16 * slot
        if len(data) == at:  # a new slot, at the end
            data += raw
        else:
            if len(data) < at:
                data.extend(bytes(at - len(data)))
            data[at:at + 16] = raw
        if free is None:
            free = cell
            self._used += 1
        table[free] = slot
        self._live += 1
        return True

    def _place(self, raw: bytes, slot: int) -> None:
        """Put a slot into the table (while rebuilding: no id is there twice, no cell is _GONE)."""
        table = self._table
        mask = len(table) - 1
        cell = hash(raw) & mask
        while table[cell] != _EMPTY:
            cell = (cell + 1) & mask
        self._used += 1
        table[cell] = slot

    def _rebuild(self) -> None:
        """A table with room for four times the live ids, without the _GONE cells."""
        slots = [slot for slot in self._table if slot >= 0]
        size = 8
        while size < 4 * (len(slots) + 1):
            size *= 2
        self._table, self._used = array("i", [_EMPTY]) * size, 0
        data = self._bytes
        for slot in slots:
            self._place(bytes(data[16 * slot:16 * slot + 16]), slot)

    def remove(self, job_id: str) -> None:
        raw = _uuid_bytes(job_id)
        if raw is None:
            self._other_ids.pop(self._other.pop(job_id), None)
            return
        self._table[self._cell(raw)] = _GONE
        self._live -= 1

    def id_of(self, slot: int) -> str:
        other = self._other_ids.get(slot)
        if other is not None:
            return other
        h = self._bytes[16 * slot:16 * slot + 16].hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _entry(sort_key: int, seq: int, slot: int) -> int:
    return (sort_key << _KEY_SHIFT) | (seq << _SLOT_BITS) | slot


class _Claim:
    __slots__ = ("slot", "lease", "worker", "at", "durable")

    def __init__(self, slot: int, lease: float, worker: str | None, at: float | None, durable: bool):
        self.slot, self.lease, self.worker, self.at, self.durable = slot, lease, worker, at, durable


class Scheduler:
    """The schedule: add jobs, take ready ones, and follow their outcomes."""

    def __init__(self) -> None:
        # one slot per unfinished job; a finished job's slot is reused
        self._ids = _Ids()
        self._count = 0
        self._seq = array("q")
        self._priority = array("q")
        self._queue = array("I")  # index into _queue_names
        self._after = array("d")  # execute_after, unix seconds
        self._attempt = array("i")  # attempts counted so far, including a claim in progress
        self._max_attempts = array("i")
        self._phase = bytearray()
        self._any = bytearray()  # 1: dependency mode "any"
        self._free = array("I")
        self._queue_names: list[str] = []
        self._queue_numbers: dict[str, int] = {}
        self._queue_sizes = array("q")  # unfinished jobs per queue number
        # only for the jobs that have them
        self._parents_left: dict[int, list[int]] = {}  # slot -> [parents not done yet, parents that can still succeed]
        self._children: dict[str, list[str]] = {}  # unfinished parent -> children waiting for it
        self._claims: dict[str, _Claim] = {}  # job id -> claim: the outcomes of claimed jobs need no id lookup
        # heaps of packed entries: ready per queue number; delayed; leases as (lease, slot, seq, attempt)
        self._ready: dict[int, list[int]] = {}
        self._delayed: list[int] = []
        self._leases: list[tuple[float, int, int, str]] = []  # (lease, seq, attempt, job id)

    # -- adding --------------------------------------------------------------------------------
    def add(self, job_id: str, queue: str, priority: int, seq: int, execute_after: float, mode: str,
            max_attempts: int, now: float, waiting_on: Sequence[str] = (), satisfied: bool = False,
            attempts: int = 0, claimed: bool = False) -> bool:
        """Add an unfinished job; True when it has no parent left to wait for.

        waiting_on: its unfinished parents; satisfied: one parent has already succeeded (which is
        enough for an "any" job). claimed=True restores a claim found in the file (a durable one,
        left by a process that is gone) with `attempts` counted.
        """
        slot = self._allocate(queue, priority, seq, execute_after, mode, max_attempts, attempts)
        if not self._ids.insert(job_id, slot):
            self._release_slot(slot)
            raise ValueError(f"job {job_id} is already scheduled")
        if waiting_on:
            remaining = 0 if mode == "any" and satisfied else len(waiting_on)
            if remaining:
                self._parents_left[slot] = [remaining, len(waiting_on)]
            for parent in waiting_on:
                self._children.setdefault(parent, []).append(job_id)
        if claimed:
            self._phase[slot] = CLAIMED
            self._claims[job_id] = _Claim(slot, 0.0, None, None, True)
            return False
        if slot in self._parents_left:
            self._phase[slot] = WAITING
            return False
        self._make_runnable(slot, now)
        return True

    def _allocate(self, queue, priority, seq, execute_after, mode, max_attempts, attempts) -> int:
        number = self._queue_numbers.get(queue)
        if number is None:
            number = self._queue_numbers[queue] = len(self._queue_names)
            self._queue_names.append(queue)
            self._queue_sizes.append(0)
        self._queue_sizes[number] += 1
        self._count += 1
        if self._free:
            slot = self._free.pop()
            self._seq[slot], self._priority[slot], self._queue[slot] = seq, priority, number
            self._after[slot], self._attempt[slot], self._max_attempts[slot] = execute_after, attempts, max_attempts
            self._phase[slot], self._any[slot] = WAITING, mode == "any"
            return slot
        self._seq.append(seq)
        self._priority.append(priority)
        self._queue.append(number)
        self._after.append(execute_after)
        self._attempt.append(attempts)
        self._max_attempts.append(max_attempts)
        self._phase.append(WAITING)
        self._any.append(mode == "any")
        return len(self._seq) - 1

    def _release_slot(self, slot: int) -> None:
        self._count -= 1
        self._queue_sizes[self._queue[slot]] -= 1
        self._phase[slot] = FREE
        self._free.append(slot)

    def __contains__(self, job_id: str) -> bool:
        return self._ids.find(job_id) is not None

    def __len__(self) -> int:
        return self._count

    def unfinished(self, ids: Iterable[str]) -> int:
        return sum(1 for i in ids if self._ids.find(i) is not None)

    # -- time -------------------------------------------------------------------------------------
    def promote_due(self, now: float) -> None:
        """Delayed jobs whose time has come become ready."""
        delayed, limit = self._delayed, int(now * 1e6)
        while delayed and delayed[0] >> _KEY_SHIFT <= limit:
            slot = self._valid(heapq.heappop(delayed), DELAYED)
            if slot is not None:
                self._push_ready(slot)

    def expired(self, now: float) -> list[tuple[str, int]]:
        """(id, attempt) of the claims whose lease has run out by `now` (each reported once)."""
        leases = self._leases
        out = []
        while leases and leases[0][0] <= now:
            lease, seq, attempt, job_id = heapq.heappop(leases)
            claim = self._claims.get(job_id)
            if claim is not None and claim.lease == lease and self._attempt[claim.slot] == attempt:
                out.append((job_id, attempt))
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
            seq, attempt, job_id = self._seq[slot], self._attempt[slot], self._ids.id_of(slot)
            self._claims[job_id] = _Claim(slot, lease, worker_id, now, False)
            heapq.heappush(self._leases, (lease, seq, attempt, job_id))
            out.append((job_id, seq, attempt, self._after[slot]))
        return out

    def untake(self, ids: Iterable[str], now: float) -> None:
        """Undo take() for these jobs (the claim could not be completed)."""
        for job_id in ids:
            claim = self._claims.get(job_id)
            if claim is not None:
                self._attempt[claim.slot] -= 1
                self._requeue(job_id, now)

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
        if only is not None and self._ids.id_of(slot) not in only:
            passed_over.append((heap, entry))
            return
        self._phase[slot] = CLAIMED
        picked.append(slot)

    def _claim_of(self, job_id: str) -> tuple[int, _Claim] | tuple[None, None]:
        claim = self._claims.get(job_id)
        return (claim.slot, claim) if claim is not None else (None, None)

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
            todo = [(i, c.slot, c) for i, c in self._claims.items()]
        else:
            todo = [(i, *self._claim_of(i)) for i in ids]
        return [(i, self._attempt[slot], c.worker, c.at, c.lease) for i, slot, c in todo
                if c is not None and not c.durable]

    def waiting(self, queue: str, at_most: int) -> int:
        """Unclaimed jobs of `queue` (waiting for parents, delayed or ready), counted up to at_most."""
        number = self._queue_numbers.get(queue)
        if number is None:
            return 0
        claimed = sum(1 for c in self._claims.values() if self._queue[c.slot] == number)
        return min(at_most, self._queue_sizes[number] - claimed)

    def first_ready(self, now: float) -> str | None:
        """The ready job that a worker of every queue would claim next (highest priority, then
        first in), or None."""
        self.promote_due(now)
        heads = []
        for heap in self._ready.values():
            while heap and self._valid(heap[0], READY) is None:
                heapq.heappop(heap)  # stale: dropped here as a claim would drop it
            if heap:
                heads.append(heap[0])
        return self._ids.id_of(min(heads) & _SLOT) if heads else None

    def queue_of(self, job_id: str) -> str | None:
        """The queue of a scheduled job, or None."""
        claim = self._claims.get(job_id)
        slot = claim.slot if claim is not None else self._ids.find(job_id)
        return None if slot is None else self._queue_names[self._queue[slot]]

    def counts(self, now: float) -> list[tuple[str, str, int]]:
        """(queue, status, jobs) of the unfinished jobs: claimed, delayed (execute_after still ahead,
        whether waiting for parents or not) and pending (the rest). Costs what the claims, the
        delayed jobs and the jobs waiting for parents number, not what the queue holds."""
        rows = [(name, "pending", self._queue_sizes[n]) for n, name in enumerate(self._queue_names)]
        later = {slot for entry in self._delayed if (slot := self._valid(entry, DELAYED)) is not None}
        later.update(slot for slot in self._parents_left if self._phase[slot] == WAITING)
        moved = [(c.slot, "claimed") for c in self._claims.values()]
        moved += [(slot, "delayed") for slot in later if self._after[slot] > now]
        for slot, status in moved:
            name = self._queue_names[self._queue[slot]]
            rows += [(name, status, 1), (name, "pending", -1)]
        return rows

    def mark_durable(self, ids: Iterable[str]) -> None:
        """These claims are now written to the file."""
        for job_id in ids:
            _, claim = self._claim_of(job_id)
            if claim is not None:
                claim.durable = True

    def claimed(self) -> list[tuple[str, int]]:
        """(id, attempt) of every claimed job."""
        return [(i, self._attempt[c.slot]) for i, c in self._claims.items()]

    def renew(self, claims: Iterable[tuple[str, int]], lease: float) -> None:
        """Move the lease of these current claims to `lease`."""
        for job_id, attempt in claims:
            slot, claim = self._claim_of(job_id)
            if claim is not None:
                claim.lease = lease
                heapq.heappush(self._leases, (lease, self._seq[slot], attempt, job_id))

    # -- outcomes ---------------------------------------------------------------------------------
    def max_attempts(self, job_id: str) -> int:
        claim = self._claims.get(job_id)
        return self._max_attempts[claim.slot if claim is not None else self._ids.find(job_id)]

    def has_children(self, job_id: str) -> bool:
        """True when unfinished jobs wait for this one."""
        return job_id in self._children

    def retry(self, job_id: str, execute_after: float, now: float) -> None:
        """A claimed job runs again from `execute_after`; its attempt stays counted."""
        self._after[self._claims[job_id].slot] = execute_after
        self._requeue(job_id, now)

    def release(self, job_id: str, now: float) -> None:
        """A claimed job goes back as it was: its attempt does not count."""
        self._attempt[self._claims[job_id].slot] -= 1
        self._requeue(job_id, now)

    def _requeue(self, job_id: str, now: float) -> None:
        self._make_runnable(self._claims.pop(job_id).slot, now)

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
                slot = self._waiting(child)
                if slot is None or child in doomed:
                    continue
                if self._any[slot]:
                    alive_lost[child] = alive_lost.get(child, 0) + 1
                    if self._parents_left[slot][1] - alive_lost[child] > 0:
                        continue
                doomed.add(child)
                skipped.append(child)
                stack.append(child)
        return skipped, {c: n for c, n in alive_lost.items() if c not in doomed}

    def regain_parent(self, parent: str, child: str) -> None:
        """A parent that had failed runs again (a retried dead letter): a waiting "any" child can
        be made runnable by it again."""
        slot = self._waiting(child)
        if slot is not None:
            self._children.setdefault(parent, []).append(child)
            self._parents_left[slot][1] += 1  # [0] still counts it: a failed parent is not counted off

    def lose_parents(self, alive_lost: dict[str, int]) -> None:
        """Apply the second half of doomed_by(): these "any" children have fewer live parents."""
        for child, lost in alive_lost.items():
            slot = self._waiting(child)
            if slot is not None:
                self._parents_left[slot][1] -= lost

    def finish(self, job_id: str, succeeded: bool, now: float) -> bool:
        """Drop a finished job (done, failed or skipped) and count it off its waiting children.
        True if a child became runnable."""
        claim = self._claims.pop(job_id, None)
        slot = claim.slot if claim is not None else self._ids.find(job_id)
        if slot is not None:
            self._ids.remove(job_id)
            self._release_slot(slot)
            self._parents_left.pop(slot, None)
        woke = False
        for child in self._children.pop(job_id, ()):
            slot = self._waiting(child)
            if slot is None or not succeeded:
                continue
            left = self._parents_left[slot]
            left[0] -= 1
            if self._any[slot] or left[0] == 0:
                del self._parents_left[slot]
                self._make_runnable(slot, now)
                woke = True
        return woke

    def _waiting(self, job_id: str) -> int | None:
        """The slot of a job that waits for parents, or None."""
        slot = self._ids.find(job_id)
        return slot if slot is not None and self._phase[slot] == WAITING else None

    # -- heaps ------------------------------------------------------------------------------------
    def _make_runnable(self, slot: int, now: float) -> None:
        after = self._after[slot]
        if after > now:
            self._phase[slot] = DELAYED
            heapq.heappush(self._delayed, _entry(int(after * 1e6), self._seq[slot], slot))
        else:
            self._push_ready(slot)

    def _push_ready(self, slot: int) -> None:
        self._phase[slot] = READY
        entry = _entry(_TOP_PRIORITY - self._priority[slot], self._seq[slot], slot)
        heapq.heappush(self._ready.setdefault(self._queue[slot], []), entry)

    def _valid(self, entry: int, phase: int) -> int | None:
        """The slot of a heap entry that still stands for its job in this phase, or None (stale)."""
        slot = entry & _SLOT
        if self._phase[slot] != phase or self._seq[slot] != (entry >> _SLOT_BITS) & _SEQ:
            return None
        return slot
