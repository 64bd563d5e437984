"""queuack 0.1's get_default_queue / close_default_queue and ConnectionPool, used as 0.1 code used them."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import duckdb
import pytest

from queuack import ConnectionPool, DuckQueue, QueuackError, close_default_queue, get_default_queue
from queuack.errors import DatabaseLockedError


@pytest.fixture
def no_default_queue():
    close_default_queue()
    yield
    close_default_queue()


def add(a, b):
    return a + b


def test_default_queue_is_created_once_and_shared(no_default_queue, tmp_path):
    path = str(tmp_path / "q.db")
    q = get_default_queue(path)
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(get_default_queue(path))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(s is q for s in seen) and get_default_queue() is q
    job_id = q.enqueue(add, args=(1, 2))
    assert q.claim().id == job_id


def test_close_default_queue_closes_and_forgets(no_default_queue):
    q = get_default_queue(":memory:")
    close_default_queue()
    assert q.closed
    assert get_default_queue(":memory:") is not q
    close_default_queue()
    close_default_queue()  # nothing open: does nothing


def test_a_different_path_while_one_is_open_is_refused(no_default_queue, tmp_path):
    get_default_queue(str(tmp_path / "a.db"))
    with pytest.raises(QueuackError, match="already open on .*a.db.*close_default_queue"):
        get_default_queue(str(tmp_path / "b.db"))
    close_default_queue()
    assert get_default_queue(str(tmp_path / "b.db")).db_path.endswith("b.db")


def test_memory_pool_shares_one_connection_across_threads():
    pool = ConnectionPool(":memory:")
    pool.get_connection().execute("CREATE TABLE nums (x INTEGER)")

    def insert(i):
        with pool.connection_context() as conn:
            conn.execute("INSERT INTO nums VALUES (?)", [i])

    threads = [threading.Thread(target=insert, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pool.get_connection().execute("SELECT count(*) FROM nums").fetchone() == (8,)
    pool.close_current()
    assert pool._global_conn is None
    with pytest.raises(duckdb.CatalogException):  # a new in-memory database
        pool.get_connection().execute("SELECT * FROM nums")
    pool.close_all()


def test_file_pool_gives_each_thread_its_own_connection(tmp_path):
    pool = ConnectionPool(str(tmp_path / "p.db"))
    pool.close_current()  # nothing opened yet: does nothing
    main = pool.get_connection()
    main.execute("CREATE TABLE nums (x INTEGER)")
    assert pool.get_connection() is main
    others = []

    def work():
        conn = pool.get_connection()
        conn.execute("INSERT INTO nums VALUES (1)")
        others.append(conn)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert others[0] is not main
    assert main.execute("SELECT count(*) FROM nums").fetchone() == (1,)
    pool.close_current()
    assert pool.get_connection() is not main
    pool.close_all()
    with pytest.raises(duckdb.ConnectionException):  # closed in its own thread too
        others[0].execute("SELECT 1")


def test_get_connection_waits_while_initializing():
    pool = ConnectionPool(":memory:")
    pool.mark_initializing()
    got = []
    t = threading.Thread(target=lambda: got.append(pool.get_connection()))
    t.start()
    t.join(0.2)
    assert t.is_alive() and not got
    conn = duckdb.connect(":memory:")
    pool.set_global_connection(conn)
    pool.mark_ready()
    t.join()
    assert got == [conn]
    pool.wait_until_ready()
    with pytest.raises(QueuackError, match="already has its shared connection"):
        pool.set_global_connection(duckdb.connect(":memory:"))
    with pytest.raises(QueuackError, match="':memory:' pools only"):
        ConnectionPool("x.db").set_global_connection(conn)
    pool.close_all()


def test_pool_on_a_file_held_by_a_queue_is_refused_clearly(tmp_path):
    path = str(tmp_path / "q.db")
    q = DuckQueue(path)
    with pytest.raises(QueuackError, match="open by a DuckQueue in this process"):
        ConnectionPool(path).get_connection()
    q.close()
    pool = ConnectionPool(path)
    assert pool.get_connection().execute("SELECT count(*) FROM queuack.jobs").fetchone() == (0,)
    with pytest.raises(QueuackError):  # nor the other way round
        DuckQueue(path)
    other = subprocess.run([sys.executable, "-c", f"import queuack; queuack.ConnectionPool({path!r}).get_connection()"],
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert "DatabaseLockedError" in other.stderr and f"PID {os.getpid()}" in other.stderr
    pool.close_all()
    assert DatabaseLockedError.from_duckdb(path, ValueError("no")) is None
