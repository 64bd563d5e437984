"""`make demo` runs examples/demo.py: run it once as a user would and check what it reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "fixtures" / "legacy_project"


def _sources() -> dict[str, bytes]:
    return {str(p.relative_to(PROJECT)): p.read_bytes() for p in PROJECT.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def demo():
    before = _sources()
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py")], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    return done, before, _sources()


def test_demo_exits_0_and_says_so(demo):
    done, _, _ = demo
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("DEMO OK")


def test_demo_shows_the_queue_and_a_dag(demo):
    out = demo[0].stdout
    assert "queue: 5 jobs processed by a Worker, results [1, 4, 9, 16, 25]" in out
    assert "dag 'etl': done, load -> {'count': 8, 'total': 310}" in out


def test_demo_runs_every_step_with_the_real_commands_in_order(demo):
    out = demo[0].stdout
    steps = ["$ python pipeline.py legacy.duckdb", "$ migrate scan .", "$ migrate apply . --dry-run",
             "$ migrate apply . --backup", "$ python pipeline.py migrated.duckdb", "$ migrate restore ."]
    positions = [out.find(step) for step in steps]
    assert -1 not in positions, out
    assert positions == sorted(positions)
    # scan reported the manual wiring, the dry run showed a diff, apply left nothing behind
    assert " QM001 " in out and " QM002 " in out
    assert "+++ b/tasks.py" in out and "context.upstream(" in out
    assert "no findings remain" in out


def test_demo_gets_the_same_results_and_restores_the_originals(demo):
    out = demo[0].stdout
    assert out.count("report: {") == 2
    assert "same results as before the migration: yes" in out
    assert "every file byte for byte as before: yes" in out


def test_demo_works_on_a_copy_and_leaves_the_fixture_untouched(demo):
    _, before, after = demo
    assert after == before
