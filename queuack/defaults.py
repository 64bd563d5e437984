"""get_default_queue / close_default_queue: queuack 0.1's process-wide default queue.

Decision on paths: 0.1 silently returned the first queue whatever path a later call named, so a
call naming another file got the wrong database. Here a call without a path (or with the one
already open) returns the open queue, and naming a different path raises QueuackError until
close_default_queue() is called. Paths are compared after os.path.abspath, so "q.db" and
"./q.db" are the same file.
"""

from __future__ import annotations

import os
import threading

from .backend import MEMORY
from .errors import QueuackError
from .queue import DuckQueue

DEFAULT_DB_PATH = "duckqueue.db"  # 0.1's default file

_lock = threading.Lock()
_queue: DuckQueue | None = None


def _same_path(a: str, b: str) -> bool:
    if MEMORY in (a, b):
        return a == b
    return os.path.abspath(a) == os.path.abspath(b)


def get_default_queue(db_path: str | os.PathLike | None = None) -> DuckQueue:
    """The process-wide default queue, opened on db_path ("duckqueue.db" if None) by the first call
    and returned by every later one until close_default_queue()."""
    global _queue
    with _lock:
        if _queue is not None and _queue.closed:
            _queue = None  # closed directly by its user: open a new one
        if _queue is None:
            _queue = DuckQueue(DEFAULT_DB_PATH if db_path is None else db_path)
        elif db_path is not None and not _same_path(str(db_path), _queue.db_path):
            raise QueuackError(
                f"the default queue is already open on {_queue.db_path}, not {db_path}; call "
                "close_default_queue() first, or open DuckQueue(path) for a second database."
            )
        return _queue


def close_default_queue() -> None:
    """Close the default queue and forget it; the next get_default_queue() opens a new one. Does
    nothing when none is open."""
    global _queue
    with _lock:
        queue, _queue = _queue, None
    if queue is not None:
        queue.close()
