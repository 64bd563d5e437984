"""Progress in the terminal, drawn with rich: the live line of `queuack worker` on a TTY, the
progress bar of `dag.execute(progress=True)`, and a spinner for a command step that takes more
than a second (`queuack copy`).

Decisions:
- The numbers come from the backend's counts (stats, a DAG run's progress), sampled a few times a
  second on a thread of their own, so the worker's own loop does nothing for the display.
- jobs/s is the number of jobs that finished (done or failed for good) over the last few seconds
  of samples, not since start: it shows how fast the queue drains now.
- When the output is not a terminal (or with --no-progress) nothing is drawn: log lines only.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

SAMPLE_EVERY = 0.5  # seconds between two reads of the counts
RATE_WINDOW = 5.0  # seconds of samples that jobs/s is computed over


class Rate:
    """Jobs finished per second over the last `window` seconds of samples."""

    def __init__(self, window: float = RATE_WINDOW):
        self.window = window
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, at: float, finished: int) -> float:
        self.samples.append((at, finished))
        while len(self.samples) > 2 and at - self.samples[1][0] >= self.window:
            self.samples.popleft()
        first_at, first = self.samples[0]
        return 0.0 if at <= first_at else max(0, finished - first) / (at - first_at)


def worker_line(rate: float, counts: dict[str, int], failed: int, running: int | None = None) -> str:
    """The worker's live line: jobs/s, running (the worker's own, when known: claimed jobs include
    the ones it prefetched), pending (ready or delayed), failed since it started."""
    pending = counts.get("pending", 0) + counts.get("delayed", 0)
    running = counts.get("claimed", 0) if running is None else running
    return f"{rate:.1f} jobs/s · {running} running · {pending} pending · {failed} failed"


class Working:
    """A spinner with `message` and the time elapsed on stderr, for a command's step that may take
    a while: shown only on a terminal, and only once the step has taken longer than `after` seconds
    (a quick command prints nothing extra)."""

    def __init__(self, message: str, console: Console | None = None, after: float = 1.0):
        self.console = console or Console(stderr=True)
        self.message = message
        self.after = after
        self._started = 0.0
        self._status = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(after, self._show)
        self._timer.daemon = True

    def _show(self) -> None:
        with self._lock:
            if self._timer is None:
                return
            self._status = self.console.status(self.message)
            self._status.start()
            self._tick()

    def _tick(self) -> None:
        if self._status is not None:
            self._status.update(f"{self.message} ({time.monotonic() - self._started:.0f}s)")

    def __enter__(self) -> "Working":
        self._started = time.monotonic()
        if self.console.is_terminal:
            self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._timer.cancel()
            self._timer = None
            if self._status is not None:
                self._status.stop()


class _Redrawn:
    """A display redrawn by a thread of its own every `every` seconds while open, and once more
    when it closes (so that the last figures stay on screen)."""

    every = SAMPLE_EVERY

    def __init__(self, display):
        self._display = display  # rich Live or Progress: start() and stop()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="queuack-progress", daemon=True)

    def __enter__(self):
        self._display.start()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._draw()
        self._display.stop()

    def _loop(self) -> None:
        while True:
            self._draw()
            if self._stop.wait(self.every):
                return

    def _draw(self) -> None:
        try:
            self._redraw()
        except Exception:  # the queue is closing, or its server is away a moment: a display never fails
            pass

    def _redraw(self) -> None:
        raise NotImplementedError


class WorkerProgress(_Redrawn):
    """The worker's line on `console`, from the backend's counts (of one queue, or all)."""

    def __init__(self, backend, console: Console, queue: str | None = None, running: Callable[[], int] | None = None):
        self.backend = backend
        self.queue = queue
        self.running = running  # how many jobs the worker runs now; None: the queue's claimed jobs
        self._rate = Rate()
        self._start: dict[str, int] | None = None
        self._live = Live(Text(""), console=console, refresh_per_second=4)
        super().__init__(self._live)

    def _redraw(self) -> None:
        counts = self.backend.stats(self.queue)
        self._start = self._start or counts
        rate = self._rate.add(time.monotonic(), counts.get("done", 0) + counts.get("failed", 0))
        failed = counts.get("failed", 0) - self._start.get("failed", 0)
        running = self.running() if self.running is not None else None
        self._live.update(Text(worker_line(rate, counts, failed, running), style="bold"), refresh=True)

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        if not self._live.console.is_terminal:  # rich leaves a line of text unended there (--progress in a pipe)
            self._live.console.line()


class DagProgress(_Redrawn):
    """A progress bar of a DAG run's jobs: finished of total, with running, failed and skipped counts."""

    every = SAMPLE_EVERY / 2

    def __init__(self, dag, console: Console | None = None):
        self.dag = dag
        self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
                             console=console or Console(stderr=True))
        self._task = self._bar.add_task(dag.name, total=len(dag.jobs), detail="")
        super().__init__(self._bar)

    def _redraw(self) -> None:
        counts = self.dag.progress
        finished = counts["done"] + counts["failed"] + counts["skipped"]
        shown = (("running", counts["claimed"]), ("failed", counts["failed"]), ("skipped", counts["skipped"]))
        self._bar.update(self._task, completed=finished, detail=", ".join(f"{n} {what}" for what, n in shown if n))
