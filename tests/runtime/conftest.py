"""Fixtures for the runtime tests: real DuckDB queues, in memory and on files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from queuack import DuckQueue

TESTS_DIR = Path(__file__).resolve().parent.parent  # holds the `runtime` package (jobfuncs)
REPO_DIR = TESTS_DIR.parent


@pytest.fixture
def db_path(tmp_path) -> str:
    return str(tmp_path / "queue.duckdb")


def location(request, kind: str, tmp_path) -> str:
    """Where a test's queue lives: memory, a DuckDB file, or PostgreSQL (an emptied database on the
    session's throwaway server). A test marked `duckdb_only` is skipped on PostgreSQL."""
    if kind == "postgres":
        marker = request.node.get_closest_marker("duckdb_only")
        if marker:
            pytest.skip("DuckDB-specific: " + marker.args[0])
        return request.getfixturevalue("pg_queue_url")
    return ":memory:" if kind == "memory" else str(tmp_path / "queue.duckdb")


@pytest.fixture(params=["memory", "file", "postgres"])
def queue(request, tmp_path):
    """A fresh DuckQueue on every backend: DuckDB in memory, a DuckDB file, and PostgreSQL."""
    q = DuckQueue(location(request, request.param, tmp_path))
    yield q
    q.close()


@pytest.fixture
def file_queue(db_path):
    q = DuckQueue(db_path)
    yield q
    q.close()


def subprocess_env() -> dict:
    """An environment in which a child process imports this checkout's queuack and the test jobs."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_DIR), str(TESTS_DIR), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("COVERAGE_PROCESS_START", None)
    return env


def python_process(code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], env=subprocess_env(), **kwargs)
