"""Helpers shared by the workload scripts.

The scripts run under several interpreters (the project venv and the peer
venvs under .bench/), so this module uses the standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import shutil
import sys
import tempfile
import time


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--tmp", default=None, help="directory for database files")
    return p


@contextlib.contextmanager
def scratch_dir(base: str | None):
    """A fresh directory for one measurement's database files."""
    path = tempfile.mkdtemp(prefix="qbench-", dir=base)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def no_gc():
    """Keep the cyclic collector from landing inside a timed region."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def timed(fn, *args, **kwargs) -> float:
    """Wall time of one call. The collector stays on: it is part of real throughput;
    only leftovers of the setup are collected before the clock starts."""
    gc.collect()
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def figure(n: int, seconds: float, **extra) -> dict:
    out = {"n": n, "seconds": seconds, "per_sec": (n / seconds) if seconds > 0 else None}
    out.update(extra)
    return out


def emit(payload: dict) -> None:
    """Print the result as the last line of stdout, where the runner looks."""
    sys.stdout.flush()
    sys.stdout.write("\n" + json.dumps(payload) + "\n")
    sys.stdout.flush()
