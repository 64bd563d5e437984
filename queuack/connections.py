"""ConnectionPool: queuack 0.1's thread-safe DuckDB connection pool, kept for code that used it.

queuack's own queue does not use it (a DuckQueue opens its database through queuack/store.py).
Decisions:
- A file gets one connection per thread, opened on first use: a DuckDB connection must not be
  used by two threads at once, while connections of one process to one file share the database.
- ":memory:" gets one shared connection, because every new in-memory connection is a separate,
  empty database. It is created on first use (0.1 raised until set_global_connection had been
  called) and guarded by a lock that connection_context() holds around each use.
- mark_initializing() makes get_connection() wait until mark_ready(), as in 0.1, for code that
  creates its schema before letting other threads in.
- A file that a DuckQueue of this process holds cannot be opened here (the queue opens it with
  its own settings, and DuckDB refuses a second configuration), nor can a file another process
  holds: both raise a QueuackError that says so.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

import duckdb

from .backend import MEMORY
from .errors import DatabaseLockedError, QueuackError


class ConnectionPool:
    """Thread-safe DuckDB connections for one database path (see the module docstring)."""

    def __init__(self, db_path: str):
        self.db_path = str(db_path)
        self._use_shared_memory = self.db_path == MEMORY
        self._local = threading.local()
        self._global_conn: duckdb.DuckDBPyConnection | None = None
        self._connection_lock = threading.Lock()  # serialises use of the shared in-memory connection
        self._opened_lock = threading.Lock()  # guards _opened and the shared connection's creation
        self._opened: list[duckdb.DuckDBPyConnection] = []  # every open connection, for close_all()
        self._ready = threading.Event()
        self._ready.set()

    # -- readiness (0.1's schema-initialisation gate) -----------------------------------------
    def mark_initializing(self) -> None:
        """Make get_connection() wait until mark_ready() is called."""
        self._ready.clear()

    def mark_ready(self) -> None:
        """Let get_connection() hand out connections again."""
        self._ready.set()

    def wait_until_ready(self) -> None:
        """Block while the pool is marked initializing."""
        self._ready.wait()

    # -- connections ---------------------------------------------------------------------------
    def get_connection(self) -> duckdb.DuckDBPyConnection:
        """This thread's connection to a file, or the shared one for ":memory:", opened on first use."""
        self._ready.wait()
        if self._use_shared_memory:
            with self._opened_lock:
                if self._global_conn is None:
                    self._global_conn = self._open()
                    self._opened.append(self._global_conn)
                return self._global_conn
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
            with self._opened_lock:
                self._opened.append(conn)
        return conn

    def set_global_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        """Hand the pool the shared connection of a ":memory:" pool (0.1's schema set-up did)."""
        if not self._use_shared_memory:
            raise QueuackError(f"set_global_connection is for ':memory:' pools only; this pool is on {self.db_path}")
        with self._opened_lock:
            if self._global_conn is not None:
                raise QueuackError("this pool already has its shared connection; call close_current() first to replace it")
            self._global_conn = conn
            self._opened.append(conn)

    @contextmanager
    def connection_context(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for the duration of a `with` block; for ":memory:" other threads wait meanwhile."""
        if not self._use_shared_memory:
            yield self.get_connection()
            return
        with self._connection_lock:
            yield self.get_connection()

    def close_current(self) -> None:
        """Close this thread's connection (the shared one for ":memory:"); the next use opens a new one."""
        if self._use_shared_memory:
            with self._opened_lock:
                conn, self._global_conn = self._global_conn, None
        else:
            conn, self._local.conn = getattr(self._local, "conn", None), None
        if conn is not None:
            self._forget(conn)
            conn.close()

    def close_all(self) -> None:
        """Close every connection the pool opened, in every thread; threads that use it again reopen."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
            self._global_conn = None
        self._local = threading.local()
        for conn in opened:
            conn.close()

    def _open(self) -> duckdb.DuckDBPyConnection:
        try:
            conn = duckdb.connect(self.db_path)
        except duckdb.ConnectionException as exc:
            if "different configuration" not in str(exc):
                raise
            raise QueuackError(
                f"{self.db_path} is open by a DuckQueue in this process, which holds it with its own "
                "settings; use that queue (q.conn) instead of a ConnectionPool on the same file."
            ) from None
        except duckdb.IOException as exc:
            raise DatabaseLockedError.from_duckdb(self.db_path, exc) or exc from None
        return conn

    def _forget(self, conn: duckdb.DuckDBPyConnection) -> None:
        with self._opened_lock:
            self._opened = [c for c in self._opened if c is not conn]
