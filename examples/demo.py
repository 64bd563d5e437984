"""The demo behind `make demo`: the main job, end to end, on the embedded default (DuckDB in-process).

1. The queue and a DAG on the TaskContext, briefly.
2. A legacy project (tasks that wire their parents by hand: a parent job id and a queue path as
   parameters, DuckQueue(path) opened inside the task) is copied from fixtures/ to a temporary
   folder, and its pipeline runs.
3. `migrate scan`, `migrate apply --dry-run` (the diff), `migrate apply --backup`.
4. The migrated pipeline runs and must give the same results.
5. `migrate restore` puts every file back byte for byte.

Every migrate step is the real command (`python -m migrate ...`) in a subprocess; its output is
shown as it is. Each pipeline run is a fresh process on a fresh queue file too, so the legacy and the migrated code never
share imported modules. Exit 0 when every step did what it should, 1 otherwise.

The sample project is fixtures/legacy_project (or the folder in QUEUACK_DEMO_PROJECT); its
pipeline runs as `python pipeline.py QUEUE_DB` and prints its results one per line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from queuack import DAG, DuckQueue, Worker

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PROJECT = ROOT / "fixtures" / "legacy_project"


class StepFailed(Exception):
    pass


def heading(number: int, text: str) -> None:
    print(f"\n== {number}. {text}")


def indent(text: str) -> str:
    if not text.strip():
        return "   (no output)"
    return "\n".join(("   " + line).rstrip() for line in text.rstrip("\n").splitlines())


# -- 1. the queue and a DAG ------------------------------------------------------------------------


def square(x: int) -> int:
    return x * x


def extract() -> list[int]:
    return [3, 1, 4, 1, 5, 9, 2, 6]


def transform(context) -> list[int]:  # a parameter named `context` receives the TaskContext
    return sorted(x * 10 for x in context.upstream("extract"))


def load(context) -> dict:
    values = context.upstream("transform")
    return {"count": len(values), "total": sum(values)}


def queue_and_dag(folder: Path) -> None:
    heading(1, "the queue and a DAG on the TaskContext (embedded DuckDB file)")
    with DuckQueue(str(folder / "demo.duckdb")) as q:
        ids = q.enqueue_batch([(square, (n,), {}) for n in range(1, 6)])
        processed = Worker(q, concurrency=2).run(burst=True)
        results = [q.get_result(i) for i in ids]
        print(f"   queue: {processed} jobs processed by a Worker, results {results}")
        with DAG("etl", queue=q) as dag:
            dag.add_job(extract, name="extract")
            dag.add_job(transform, name="transform", depends_on="extract")
            dag.add_job(load, name="load", depends_on="transform")
        ok = dag.execute()
        print(f"   dag {dag.name!r}: {dag.status.value}, load -> {dag.get_result('load')}")
        if results != [1, 4, 9, 16, 25] or not ok:
            raise StepFailed("the queue or the DAG did not give the expected results")


# -- 2-5. the legacy project through migrate -------------------------------------------------------


def find_project() -> Path:
    """The sample legacy project (fixtures/legacy_project, or the folder in QUEUACK_DEMO_PROJECT)."""
    path = Path(os.environ.get("QUEUACK_DEMO_PROJECT") or SAMPLE_PROJECT).resolve()
    if not (path / "pipeline.py").is_file():
        raise StepFailed(f"no sample legacy project at {path} (a folder with pipeline.py)")
    return path


def run_command(args: list[str], shown: str, cwd: Path, expect: int, width: int | None = None) -> str:
    """Run a real command in `cwd`, show it and its output (long lines cut at `width` for the
    screen only), check its exit code; returns the whole stdout."""
    print(f"   $ {shown}")
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    if width:
        output = "\n".join(line if len(line) <= width else line[:width] + f" ... ({len(line)} chars)"
                           for line in output.splitlines())
    print(indent(output))
    print(f"   (exit {done.returncode})")
    if done.returncode != expect:
        raise StepFailed(f"`{shown}` exited with {done.returncode}, expected {expect}")
    return done.stdout


def migrate(cwd: Path, *args: str, expect: int) -> str:
    return run_command([sys.executable, "-m", "migrate", *args], " ".join(["migrate", *args]), cwd, expect)


def run_pipeline(project: Path, db_path: Path) -> list[str]:
    """Run the project's own pipeline on a fresh queue file; the lines it prints are the results
    that the runs before and after the migration are compared by."""
    stdout = run_command([sys.executable, "pipeline.py", str(db_path)], f"python pipeline.py {db_path.name}",
                         project, expect=0, width=110)
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise StepFailed("the pipeline printed no results")
    return lines


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.py"))
            if "__pycache__" not in p.parts and ".migrate-backup" not in p.parts}


def legacy_to_context(folder: Path) -> dict:
    source = find_project()
    project = folder / "legacy_project"
    shutil.copytree(source, project, ignore=shutil.ignore_patterns("__pycache__", "*.duckdb*", ".migrate-backup"))
    original = snapshot(project)
    where = source.relative_to(ROOT) if source.is_relative_to(ROOT) else source
    print(f"\n   sample legacy project: {where} ({len(original)} Python files), copied to {project}")

    heading(2, "run the legacy pipeline (its tasks read their parents through DuckQueue(path).get_result(id))")
    before = run_pipeline(project, folder / "legacy.duckdb")

    heading(3, "migrate scan: what would change")
    migrate(project, "scan", ".", expect=1)

    heading(4, "migrate apply --dry-run: the diff, nothing written")
    diff = migrate(project, "apply", ".", "--dry-run", expect=1)
    if snapshot(project) != original:
        raise StepFailed("apply --dry-run changed files")
    if "+++ " not in diff:
        raise StepFailed("apply --dry-run showed no diff")

    heading(5, "migrate apply --backup: rewrite, keeping the originals")
    migrate(project, "apply", ".", "--backup", expect=0)
    migrated = snapshot(project)
    changed = sorted(name for name in original if migrated.get(name) != original[name])
    print(f"   files rewritten: {', '.join(changed) or 'none'}")
    if not changed:
        raise StepFailed("apply --backup changed nothing")
    migrate(project, "scan", ".", expect=0)

    heading(6, "run the migrated pipeline (tasks take a context and call context.upstream(name))")
    after = run_pipeline(project, folder / "migrated.duckdb")
    same = after == before
    print(f"   same results as before the migration: {'yes' if same else 'NO'}")
    if not same:
        raise StepFailed(f"the results differ:\n   before {before}\n   after  {after}")

    heading(7, "migrate restore: put the originals back")
    migrate(project, "restore", ".", expect=0)
    restored = snapshot(project) == original
    print(f"   every file byte for byte as before: {'yes' if restored else 'NO'}")
    if not restored:
        raise StepFailed("restore did not bring back the original files")
    return {"files": len(original), "changed": changed, "results": len(before)}


def main() -> int:
    print("Queuack demo: the embedded queue, and migrating a legacy project to the TaskContext")
    with tempfile.TemporaryDirectory(prefix="queuack-demo-") as tmp:
        folder = Path(tmp)
        try:
            queue_and_dag(folder)
            summary = legacy_to_context(folder)
        except StepFailed as exc:
            print(f"\nDEMO FAILED: {exc}")
            return 1
    print("\n== summary")
    print("   queue and DAG: ok")
    print(f"   legacy project: {summary['files']} files, {summary['results']} result lines, the same before and after")
    print(f"   migrate: scan found the manual wiring, apply --backup rewrote "
          f"{len(summary['changed'])} files, the results were identical, restore put every file back")
    print("DEMO OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
