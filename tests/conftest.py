"""Fixtures shared by every test directory: a throwaway PostgreSQL server for the session.

In CI (CI=true) a PostgreSQL test never skips: a missing or broken server fails it. Elsewhere the
PostgreSQL tests skip, saying how to get a server.
"""

from __future__ import annotations

import itertools
import os
import signal
from contextlib import contextmanager
from typing import Iterator

import pytest

from pgserver import PgServer, ServerUnavailable

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_database_numbers = itertools.count(1)
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _signal_handling_kept(what: str) -> Iterator[None]:
    """Fail `what` if it leaves SIGINT/SIGTERM handled differently than before it (or blocked on the
    main thread), and put them back: later tests would otherwise run with a handler that may not
    raise KeyboardInterrupt (PySpark's, a dead worker's)."""
    before = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}
    blocked_before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    yield
    problems = [f"{sig.name} handler was {handler!r}, left as {signal.getsignal(sig)!r}"
                for sig, handler in before.items() if signal.getsignal(sig) is not handler]
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    problems += [f"{sig.name} left blocked" for sig in _STOP_SIGNALS if sig in blocked and sig not in blocked_before]
    for sig, handler in before.items():
        signal.signal(sig, handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked_before)
    if problems:
        pytest.fail(f"{what} changed the process's signal handling: " + "; ".join(problems), pytrace=False)


@pytest.fixture(autouse=True, scope="module")
def _module_leaves_signal_handling_as_found():
    """Its module-scoped fixtures too (set up after this one, torn down before it)."""
    with _signal_handling_kept("the module or one of its fixtures"):
        yield


@pytest.fixture(autouse=True)
def _test_leaves_signal_handling_as_found():
    with _signal_handling_kept("the test"):
        yield


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"PostgreSQL is required in CI and could not be started: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL server for the tests: {reason}")


@pytest.fixture(scope="session")
def pg_server():
    """One server for the whole session, started on first use and removed at the end."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable('psycopg is not installed: pip install -e ".[test]" (it brings psycopg[binary])')
    try:
        server = PgServer().start()
    except ServerUnavailable as exc:
        _unavailable(str(exc))
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """The URL of a new, empty database on the session's server."""
    return pg_server.create_database(f"test_{next(_database_numbers)}")


@pytest.fixture(scope="session")
def _pg_shared_url(pg_server) -> str:
    return pg_server.create_database("shared")


@pytest.fixture
def pg_queue_url(_pg_shared_url) -> str:
    """The URL of a database whose queue is empty: one database for the session, emptied before
    each test (much cheaper than a new database; use pg_url where the schema itself matters)."""
    import psycopg

    with psycopg.connect(_pg_shared_url, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '20s'")
        tables = [r[0] for r in conn.execute(
            "SELECT 'queuack.' || tablename FROM pg_tables WHERE schemaname = 'queuack' AND tablename <> 'meta'")]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)}")
    return _pg_shared_url
