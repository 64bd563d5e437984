"""migrate: stdlib scan against ruff and a plain LibCST parse; check on a clean file; a tree
of legacy modules that all need analysis, against a plain LibCST parse of it, one process each.

The CPython standard library of the running interpreter is copied (``.py``
files only, without site-packages and __pycache__) to .bench/corpus/stdlib
once, so every tool reads the same files. All timings are wall times of a
subprocess, interpreter start-up included, output captured.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sysconfig
from pathlib import Path

from . import common, legacy_tree
from .common import log
from .targets import (CHECK, LEGACY, LEGACY_QUICK, MIGRATE_CHECK, MIGRATE_DRY_RUN_1,
                      MIGRATE_SCAN, MIGRATE_SCAN_1, PARSE_1, RUFF, SCAN, SCAN_QUICK)

CORPUS = common.BENCH_DIR / "corpus" / "stdlib"
LEGACY_TREE = common.BENCH_DIR / "corpus" / "legacy"
LEGACY_FILES = 1000  # --quick: 100
SKIP_DIRS = {"site-packages", "dist-packages", "__pycache__"}
# A small stdlib module that uses none of the old queuack patterns.
CLEAN_FILE = "colorsys.py"


def ensure_corpus() -> dict:
    stamp = CORPUS.parent / "stdlib.json"
    src = Path(sysconfig.get_paths()["stdlib"])
    if stamp.exists():
        info = json.loads(stamp.read_text())
        if info.get("source") == str(src) and CORPUS.is_dir():
            return info
    log(f"copying the standard library from {src} to {CORPUS.relative_to(common.ROOT)}")
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    files = lines = 0
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        rel = Path(dirpath).relative_to(src)
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            target = CORPUS / rel / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(dirpath) / name, target)
            files += 1
            with open(target, "rb") as fh:
                lines += sum(1 for _ in fh)
    info = {"source": str(src), "files": files, "lines": lines}
    stamp.write_text(json.dumps(info))
    return info


def migrate_exe() -> list[str]:
    exe = common.PROJECT_PYTHON.parent / "migrate"
    if exe.exists():
        return [str(exe)]
    return [str(common.PROJECT_PYTHON), "-m", "migrate.cli"]


def ruff_exe() -> str:
    return str(common.env_dir("peers") / "bin" / "ruff")


def run_ruff(corpus: Path) -> dict:
    # --isolated: no configuration files; --no-cache: every run does all the work;
    # --no-respect-gitignore: .bench/ is git-ignored, the corpus must still be read;
    # --exclude "": ruff's default excludes would skip the stdlib's venv/ package.
    cmd = [ruff_exe(), "check", "--select", "ALL", "--isolated", "--no-cache",
           "--no-respect-gitignore", "--exclude", "", "--exit-zero",
           "--output-format", "concise", str(corpus)]
    secs, proc = common.timed_command(cmd, cwd=corpus)
    if proc.returncode not in (0, 1):
        raise common.WorkloadError(f"ruff failed ({proc.returncode}): {proc.stderr[-1500:]}")
    found = re.search(r"Found (\d+) error", proc.stdout)
    return {"seconds": secs, "diagnostics": int(found.group(1)) if found else None}


def run_scan(corpus: Path) -> dict:
    cmd = [*migrate_exe(), "scan", "--format", "json", str(corpus)]
    secs, proc = common.timed_command(cmd, cwd=common.ROOT)
    if proc.returncode not in (0, 1):
        raise common.WorkloadError(
            f"migrate scan failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-1500:]}")
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise common.WorkloadError(f"migrate scan: output is not JSON ({exc}): {proc.stdout[:500]}") from exc
    findings = data.get("findings", [])
    return {"seconds": secs, "findings": len(findings), "summary": data.get("summary", {}),
            "exit": proc.returncode,
            "rules": sorted({f.get("rule") for f in findings})[:20]}


def run_check(path: Path) -> dict:
    cmd = [*migrate_exe(), "check", str(path)]
    secs, proc = common.timed_command(cmd, cwd=common.ROOT)
    if proc.returncode != 0:
        raise common.WorkloadError(
            f"migrate check on a clean file exited {proc.returncode}: {(proc.stdout + proc.stderr)[-800:]}")
    return {"seconds": secs}


def run_libcst(corpus: Path, jobs: int) -> dict:
    return common.run_workload(common.PROJECT_PYTHON, "libcst_parse.py",
                               [str(corpus), "--jobs", str(jobs)], timeout=3600)


def run_legacy_subject(subject: str, tree: Path) -> dict:
    """One subject of the legacy tree figure, in one process: wall time and peak memory."""
    if subject == PARSE_1:
        cmd = [str(common.PROJECT_PYTHON), str(common.WORKLOADS / "libcst_parse.py"), str(tree),
               "--jobs", "1"]
        ok = (0,)
    elif subject == MIGRATE_SCAN_1:
        cmd = [*migrate_exe(), "scan", "--format", "json", "-j", "1", str(tree)]
        ok = (1,)  # every file has findings
    else:
        cmd = [*migrate_exe(), "apply", "--dry-run", "--no-progress", "-j", "1", str(tree)]
        ok = (1,)  # every file would change
    secs, rss, proc = common.timed_command_rss(cmd, cwd=common.ROOT)
    if proc.returncode not in ok:
        raise common.WorkloadError(
            f"{subject} exited {proc.returncode}: {(proc.stderr or proc.stdout)[-1500:]}")
    return {"seconds": secs, "peak_rss_mb": rss}


def run_legacy(cfg, results) -> None:
    files = 100 if cfg.quick else LEGACY_FILES
    figure = LEGACY_QUICK if cfg.quick else LEGACY
    tree = legacy_tree.generate(LEGACY_TREE, files)
    size = sum(p.stat().st_size for p in tree.rglob("*.py"))
    results.note("migrate", "legacy_tree", {"files": files, "bytes": size,
                                            "path": str(tree.relative_to(common.ROOT))})
    for r in range(cfg.runs):
        for subject in common.rotated([PARSE_1, MIGRATE_SCAN_1, MIGRATE_DRY_RUN_1], r):
            try:
                out = run_legacy_subject(subject, tree)
            except Exception as exc:  # keep the rest of the table
                results.error("migrate", figure, subject, exc)
                continue
            results.add("migrate", figure, subject, r, out["seconds"], n=files, unit="s",
                        higher_is_better=False, extra={"peak_rss_mb": out["peak_rss_mb"]})
            log(f"{subject}: {out['seconds']:.2f} s, peak RSS {out['peak_rss_mb']:.0f} MB")


def run(cfg, results) -> None:
    info = ensure_corpus()
    corpus = CORPUS
    if cfg.quick:
        # a smoke run: one package of the stdlib instead of all of it
        corpus = CORPUS / "email"
    results.note("migrate", "corpus", {**info, "scanned_path": str(corpus.relative_to(common.ROOT))})
    try:
        common.ensure_env("peers")  # for ruff
    except Exception as exc:  # the ruff rows then say what failed; migrate is still measured
        log(f"cannot set up ruff: {exc}")
    area = "migrate"
    scan_label = SCAN_QUICK if cfg.quick else SCAN
    n_files = sum(1 for _ in corpus.rglob("*.py"))

    for r in range(cfg.runs):
        order = common.rotated(["migrate", "ruff"], r)
        for who in order:
            try:
                if who == "migrate":
                    out = run_scan(corpus)
                    results.add(area, scan_label, MIGRATE_SCAN, r, out["seconds"], n=n_files,
                                unit="s", higher_is_better=False,
                                extra={"findings": out["findings"], "summary": out["summary"],
                                       "rules": out["rules"]})
                    log(f"migrate scan: {out['seconds']:.2f} s, {out['findings']} findings")
                else:
                    out = run_ruff(corpus)
                    results.add(area, scan_label, RUFF, r, out["seconds"], n=n_files,
                                unit="s", higher_is_better=False)
                    log(f"ruff: {out['seconds']:.2f} s")
            except Exception as exc:  # keep the rest of the table
                results.error(area, scan_label, MIGRATE_SCAN if who == "migrate" else RUFF, exc)

    for r in range(cfg.libcst_runs):
        try:
            out = run_libcst(corpus, cfg.jobs)
            results.add(area, scan_label, f"LibCST parse only ({cfg.jobs} procs)", r, out["seconds"],
                        n=out["files"], unit="s", higher_is_better=False,
                        extra={"parsed": out["parsed"], "failed": out["failed"]})
            log(f"libcst parse: {out['seconds']:.2f} s ({out['failed']} failed)")
        except Exception as exc:
            results.error(area, scan_label, f"LibCST parse only ({cfg.jobs} procs)", exc)

    clean = CORPUS / CLEAN_FILE
    for r in range(max(cfg.runs, 5)):
        try:
            out = run_check(clean)
            results.add(area, CHECK, MIGRATE_CHECK, r, out["seconds"], n=1,
                        unit="s", higher_is_better=False)
        except Exception as exc:
            results.error(area, CHECK, MIGRATE_CHECK, exc)
            break

    run_legacy(cfg, results)
