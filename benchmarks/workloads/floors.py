"""Bare DuckDB statements on this project's own ``jobs`` table, no queue code.

References for figures that would need one DuckDB commit per job done naively:
one-by-one enqueue (a single-row INSERT) and a DAG chain (a single-row UPDATE that
completes a node before its child may run). Run with the project venv only.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import _wl


def _connect(d):
    import duckdb
    import queuack

    con = duckdb.connect(os.path.join(d, "floor.duckdb"))
    con.execute((Path(queuack.__file__).parent / "schema.sql").read_text())
    cols = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'jobs' AND is_nullable = 'NO' ORDER BY ordinal_position").fetchall()
    return con, cols


def _value(name, typ, i):
    if name == "id":
        return str(uuid.uuid4())
    if typ == "BLOB":
        return b"\x80\x04N."
    if typ in ("INTEGER", "BIGINT", "SMALLINT"):
        return i
    if typ in ("DOUBLE", "FLOAT", "REAL"):
        return time.time()
    return "pending" if name == "status" else "x"


def _insert_sql(cols):
    return f"INSERT INTO jobs ({', '.join(c for c, _ in cols)}) VALUES ({', '.join('?' * len(cols))})"


def insert_floor(base, n):
    """N single-row INSERTs, each its own autocommitted statement."""
    with _wl.scratch_dir(base) as d:
        con, cols = _connect(d)
        try:
            sql = _insert_sql(cols)

            def body():
                for i in range(n):
                    con.execute(sql, [_value(c, t, i) for c, t in cols])
            secs = _wl.timed(body)
        finally:
            con.close()
    return _wl.figure(n, secs)


def update_floor(base, n):
    """N single-row UPDATEs that mark a pending job done with its result, each autocommitted."""
    with _wl.scratch_dir(base) as d:
        con, cols = _connect(d)
        try:
            rows = [[_value(c, t, i) for c, t in cols] for i in range(n)]
            con.executemany(_insert_sql(cols), rows)
            ids = [r[[c for c, _ in cols].index("id")] for r in rows]

            def body():
                for job_id in ids:
                    con.execute(
                        "UPDATE jobs SET status = 'done', attempts = 1, result = ?, completed_at = ? "
                        "WHERE id = ? AND status = 'pending' RETURNING id",
                        [b"\x80\x04N.", time.time(), job_id]).fetchall()
            secs = _wl.timed(body)
        finally:
            con.close()
    return _wl.figure(n, secs)
