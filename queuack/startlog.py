"""The start log: which claimed jobs began to run, kept where the death of the process cannot erase it.

The Worker keeps the claims of the jobs it prefetches in memory: writing them to DuckDB would cost
a statement per batch, and would charge an attempt to every prefetched job when the process dies,
though most of them never ran. Yet a job that takes its process down (`os._exit()`, a segfault,
the OOM killer: a poison job) must be charged, or a supervisor restarts the worker into the same
crash forever. So the Worker notes here when a job starts and when it returns: one small write
each, without fsync, because the page cache outlives the process (a power cut loses the note, and
the job then simply runs again uncharged).

The next process that opens the database for writing reads the log before anything else: a job
that started and never returned, whose row is still as that claim left it, is charged its attempt
(it runs again, or becomes a dead letter on its last), and the log is removed. That happens at the
first writable open, whoever makes it (a worker, a script that enqueues, `queuack retry`); the
charge is then in the database, where later opens cannot lose it. A read-only open (`queuack stats`)
leaves the log alone. A job that never started, or that returned before the crash (its outcome not
yet committed), goes back to pending with its attempts as they were.

Records are text lines, `S <job id> <attempt>` when a job starts and `F <job id> <attempt>` when it
returns. The log is emptied whenever no job is running and rewritten with only the running jobs
when it grows past COMPACT_BYTES. Like the journal it is owner-only and never opened through a
symbolic link. A failure to write it (a full disk) is logged once and only costs that protection.
"""

from __future__ import annotations

import logging
import os
import stat
import threading

from . import files

log = logging.getLogger("queuack")

SUFFIX = ".queuack-running"
COMPACT_BYTES = 64 * 1024


class StartLog:
    """The start log of one database file."""

    def __init__(self, db_path: str):
        self.path = db_path + SUFFIX
        self._fd: int | None = None
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}  # started and not returned: job id -> attempt
        self._size = 0
        self._broken = False

    def read(self) -> dict[str, int]:
        """{job id: attempt} of the jobs that started and never returned, as a process that is
        gone left them. Lines that do not parse (a write cut short) are ignored."""
        data = files.read_own(self.path, "the list of running jobs")
        running: dict[str, int] = {}
        for line in data.decode("ascii", "replace").split("\n"):
            parts = line.split(" ")
            if len(parts) != 3 or parts[0] not in ("S", "F") or not parts[2].isdigit():
                continue
            _, job_id, attempt = parts
            if parts[0] == "S":
                running[job_id] = int(attempt)
            elif running.get(job_id) == int(attempt):
                del running[job_id]
        return running

    def discard(self) -> None:
        """Remove the log found at open, once what it says is in the database."""
        try:
            info = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISREG(info.st_mode):
            os.unlink(self.path)

    def started(self, job_id: str, attempt: int) -> None:
        with self._lock:
            self._running[job_id] = attempt
            self._write(f"S {job_id} {attempt}\n")

    def finished(self, job_id: str, attempt: int) -> None:
        with self._lock:
            if self._running.get(job_id) != attempt:
                return
            del self._running[job_id]
            if not self._running:
                self._rewrite("")
            elif self._size > COMPACT_BYTES:
                self._rewrite("".join(f"S {i} {a}\n" for i, a in self._running.items()))
            else:
                self._write(f"F {job_id} {attempt}\n")

    def close(self) -> None:
        """At a clean close: remove the log unless a job is still running."""
        with self._lock:
            if self._fd is None:
                return
            os.close(self._fd)
            self._fd = None
            if not self._running:
                self.discard()

    # -- writing -------------------------------------------------------------------------------
    def _write(self, text: str) -> None:
        if self._broken:
            return
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW
                                   | os.O_CLOEXEC, 0o600)
                os.fchmod(self._fd, 0o600)  # whatever the umask
            self._size += os.write(self._fd, text.encode("ascii"))
        except OSError as exc:
            self._broken = True
            log.warning("cannot write %s (%s): until this queue is closed, a job that takes its process "
                        "down is not charged an attempt for it", self.path, exc.strerror or exc)

    def _rewrite(self, text: str) -> None:
        if self._fd is None or self._broken:
            return
        try:
            os.ftruncate(self._fd, 0)
        except OSError as exc:
            self._broken = True
            log.warning("cannot empty %s: %s", self.path, exc.strerror or exc)
            return
        self._size = 0
        if text:
            self._write(text)
