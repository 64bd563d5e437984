"""Paths, the peer environments under .bench/, subprocess plumbing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
WORKLOADS = Path(__file__).resolve().parent / "workloads"
PROJECT_PYTHON = Path(sys.executable)

# Peer environments. The original queuack has the same import name as this
# project, so it gets a virtual environment of its own; the SQLite queues and
# ruff share a second one. The project venv stays untouched.
PEER_ENVS = {
    "queuack013": ["queuack==0.1.3"],
    "peers": ["huey==3.5.4", "persist-queue==1.1.0", "ruff==0.17.6"],
    # the PostgreSQL queues, each in its own environment (their drivers and pins differ)
    "pgqueuer": ["pgqueuer==1.6.0", "asyncpg==0.32.0"],
    "procrastinate": ["procrastinate==3.10.0", "psycopg[binary]>=3.1,<4"],
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def env_dir(name: str) -> Path:
    return BENCH_DIR / f"venv-{name}"


def env_python(name: str) -> Path:
    return env_dir(name) / "bin" / "python"


def ensure_env(name: str) -> Path:
    """Create .bench/venv-<name> with its pinned packages, once."""
    reqs = PEER_ENVS[name]
    venv = env_dir(name)
    stamp = venv / ".bench-installed"
    wanted = "\n".join(reqs)
    if stamp.exists() and stamp.read_text() == wanted:
        return env_python(name)
    log(f"creating {venv.relative_to(ROOT)} with {', '.join(reqs)}")
    if not env_python(name).exists():
        # the base interpreter behind the project venv, not the venv itself
        base = getattr(sys, "_base_executable", None) or sys.executable
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(env_python(name)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *reqs],
        check=True,
    )
    stamp.write_text(wanted)
    return env_python(name)


def scratch_root() -> Path:
    """Where the workloads put their database files: the system temp dir, or
    BENCH_TMP (for example /dev/shm, to take the disk out of the figures)."""
    path = Path(os.environ.get("BENCH_TMP") or tempfile.gettempdir())
    path.mkdir(parents=True, exist_ok=True)
    return path


class WorkloadError(RuntimeError):
    pass


def run_workload(python: Path, script: str, args: list[str], timeout: float = 1800) -> dict:
    """Run workloads/<script> under ``python`` in a clean directory; return its JSON.

    The script runs as a file (not ``-m``) from a scratch working directory, so
    ``import queuack`` in a peer interpreter resolves to that venv's package and
    never to this checkout.
    """
    cmd = [str(python), str(WORKLOADS / script), "--tmp", str(scratch_root()), *args]
    with tempfile.TemporaryDirectory(dir=scratch_root()) as cwd:
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise WorkloadError(f"{script} {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    for line in reversed(proc.stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise WorkloadError(f"{script}: no JSON on stdout:\n{proc.stdout[-2000:]}")


def timed_command(cmd: list[str], cwd: Path | None = None, timeout: float = 3600,
                  env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """Wall time of a command, stdout captured (so terminal speed does not count)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    return time.perf_counter() - start, proc


def timed_command_rss(cmd: list[str], cwd: Path | None = None, timeout: float = 3600
                      ) -> tuple[float, float, subprocess.CompletedProcess]:
    """Like timed_command, and the peak resident memory of the command's own process, in MB
    (os.wait4's rusage of that one child; the output goes to temporary files)."""
    import threading

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        secs = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(cmd, proc.returncode, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))
    return secs, usage.ru_maxrss / 1024, done  # ru_maxrss is in KiB on Linux


def rotated(items: list, k: int) -> list:
    """Round k starts with a different subject, so no one always runs first."""
    if not items:
        return items
    k %= len(items)
    return items[k:] + items[:k]
