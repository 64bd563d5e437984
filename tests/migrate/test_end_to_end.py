"""End to end: run the legacy sample project, migrate it, run it again, compare the results.

The sample lives in fixtures/legacy_project (the demo copies it the same way). It runs on the
real runtime in a subprocess with this interpreter, once before and once after the rewrite, on
fresh queue files; the printed results must be identical, and a second migration must change
nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from migrate.analysis import analyze_sources, module_name_for

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "fixtures" / "legacy_project"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("SALES_QUEUE_DB", None)
    return env


def run_pipeline(project: Path, db: Path, *extra: str, env: dict | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, "pipeline.py", *([str(db)] if db else []), *extra],
        cwd=project,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"pipeline failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def migrate_with_api(project: Path) -> dict[str, str]:
    sources = {p.relative_to(project).as_posix(): p.read_text(encoding="utf-8") for p in project.rglob("*.py")}
    results = analyze_sources(sources, fix=True)
    changed = {}
    for path, res in results.items():
        assert res.error is None, res.error
        if res.new_source is not None:
            compile(res.new_source, path, "exec")
            (project / path).write_text(res.new_source, encoding="utf-8")
            changed[path] = res.new_source
    return changed


def migrate_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "migrate", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "legacy_project"
    shutil.copytree(SAMPLE, dest)
    return dest


def test_sample_is_legacy_and_complete():
    sources = {p.name: p.read_text(encoding="utf-8") for p in SAMPLE.glob("*.py")}
    results = analyze_sources(sources, fix=False)
    rules = {f.rule for r in results.values() for f in r.findings}
    assert rules == {"QM001", "QM002"}, rules  # everything in it can be migrated
    assert {module_name_for(p) for p in results} == {"tasks", "reports", "pipeline"}


def test_migrated_sample_gives_the_same_results(project: Path, tmp_path: Path):
    before = run_pipeline(project, tmp_path / "before.duckdb")
    assert "report:" in before and "totals:" in before

    changed = migrate_with_api(project)
    assert set(changed) == {"tasks.py", "reports.py", "pipeline.py"}
    text = (project / "reports.py").read_text(encoding="utf-8")
    assert "get_result" not in text and 'context.upstream("totals")' in text
    assert "get_result(dag.jobs[name])" in (project / "pipeline.py").read_text(encoding="utf-8")

    after = run_pipeline(project, tmp_path / "after.duckdb")
    assert after == before

    # with a Worker in burst mode, and the queue file from the environment
    env = _env()
    env["SALES_QUEUE_DB"] = str(tmp_path / "worker.duckdb")
    assert run_pipeline(project, None, "--worker", env=env) == before

    # a second pass changes nothing
    assert migrate_with_api(project) == {}


def test_migrate_cli_round_trip(project: Path, tmp_path: Path):
    before = run_pipeline(project, tmp_path / "before.duckdb")
    scan = migrate_cli("scan", ".", cwd=project)
    assert scan.returncode == 1, scan.stdout + scan.stderr
    assert "QM001" in scan.stdout and "QM002" in scan.stdout

    original = {p.name: p.read_bytes() for p in project.glob("*.py")}
    applied = migrate_cli("apply", ".", "--backup", cwd=project)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert run_pipeline(project, tmp_path / "after.duckdb") == before

    again = migrate_cli("scan", ".", cwd=project)
    assert again.returncode == 0, again.stdout + again.stderr

    restored = migrate_cli("restore", ".", cwd=project)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert {p.name: p.read_bytes() for p in project.glob("*.py")} == original


# --------------------------------------------------------------------------------------------
# every runnable fixture case behaves the same before and after its rewrite

RUNNER = r'''
import importlib, inspect, json, os, sys, tempfile

out = {}
for index, path in enumerate(sys.argv[1:]):
    folder = tempfile.mkdtemp()
    name = f"case_{index}"
    with open(path, "rb") as src, open(os.path.join(folder, name + ".py"), "wb") as dst:
        dst.write(src.read())
    sys.path.insert(0, folder)
    module = importlib.import_module(name)
    results = {}
    for fname, fn in sorted(vars(module).items()):
        if not inspect.isfunction(fn) or fn.__module__ != name:
            continue
        if list(inspect.signature(fn).parameters) != ["path"]:
            continue
        dag = fn(os.path.join(folder, fname + ".duckdb"))
        if dag is None or not hasattr(dag, "execute"):
            continue
        fast = {"poll_interval": 0.01} if "poll_interval" in inspect.signature(dag.execute).parameters else {}
        assert dag.execute(timeout=60, **fast), f"{path}: {fname}() did not finish"
        results[fname] = {n: dag.queue.get_result(j) for n, j in sorted(dag.jobs.items())}
    out[path] = results
print(json.dumps(out, sort_keys=True, default=repr))
'''


def _runnable_cases() -> list[Path]:
    cases = []
    for case in sorted((ROOT / "fixtures").glob("QM00[12]/*")):
        src = case / "input.py"
        if src.is_file() and "def build" in src.read_text(encoding="utf-8"):
            cases.append(case)
    return cases


def _run_cases(files: list[Path], tmp_path: Path) -> dict:
    import json

    script = tmp_path / "run_cases.py"
    script.write_text(RUNNER, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script), *map(str, files)],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {Path(k).parent.name: v for k, v in json.loads(proc.stdout.splitlines()[-1]).items()}


def test_fixture_cases_give_the_same_results_after_the_rewrite(tmp_path: Path):
    cases = _runnable_cases()
    assert len(cases) >= 15
    before = _run_cases([c / "input.py" for c in cases], tmp_path)
    after = _run_cases([c / "expected.py" for c in cases], tmp_path)
    assert set(before) == {c.name for c in cases}
    for name in before:
        assert before[name], f"{name}: no DAG was run"
        assert after[name] == before[name], name
