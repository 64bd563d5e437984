"""``make bench``: run the benchmarks side by side and print one table.

    python -m benchmarks.run                  # everything, 3 rounds, medians
    python -m benchmarks.run --quick          # a smoke run: 1 round, small N
    python -m benchmarks.run --only queue     # queue | workers | dag | memory | postgres | migrate | ui, comma separated
    python -m benchmarks.run --runs 5         # or BENCH_RUNS=5

The table goes to stdout (progress to stderr) and, with every raw value, to
.bench/results.json; a Markdown copy of the table goes to .bench/results.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time

from . import common, dag_bench, memory_bench, migrate_bench, pg_bench, queue_bench, ui_bench, workers_bench
from .common import log
from .results import Results
from .targets import (FLOOR, HUEY, MIGRATE_CHECK, MIGRATE_DRY_RUN_1, MIGRATE_SCAN,
                      MIGRATE_SCAN_1, OURS, OURS_PG, PARSE_1, PGQUEUER, PQ, PROCRASTINATE, Q013, RUFF,
                      SCAN, SCAN_QUICK, UPDATE_FLOOR, all_targets)

AREAS = {"queue": queue_bench, "workers": workers_bench, "dag": dag_bench, "memory": memory_bench, "postgres": pg_bench,
         "migrate": migrate_bench, "ui": ui_bench}
SUBJECT_ORDER = [OURS, FLOOR, UPDATE_FLOOR, Q013, HUEY, PQ, OURS_PG, PGQUEUER, PROCRASTINATE, MIGRATE_SCAN, RUFF, MIGRATE_CHECK,
                 MIGRATE_SCAN_1, MIGRATE_DRY_RUN_1, PARSE_1]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=os.environ.get("BENCH_ONLY", "queue,workers,dag,memory,postgres,migrate,ui"),
                   help="areas to run, comma separated: queue, workers, dag, memory, postgres, migrate, ui (env BENCH_ONLY)")
    p.add_argument("--runs", type=int, default=None,
                   help="rounds per figure; the table shows medians (env BENCH_RUNS, default 3; 1 with --quick)")
    p.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1",
                   help="smoke run: one round, small N, migrate on stdlib/email only (env BENCH_QUICK=1)")
    p.add_argument("--libcst-runs", type=int, default=int(os.environ.get("BENCH_LIBCST_RUNS", "1")),
                   help="rounds of the plain LibCST parse baseline (about a minute each; default 1)")
    p.add_argument("--jobs", type=int, default=2, help="processes for the LibCST baseline (default 2, as migrate)")
    p.add_argument("--n", type=int, default=None, help="override N of every queue figure (all subjects)")
    p.add_argument("--concurrency", type=int, default=1, help="this project's Worker concurrency in the drain")
    p.add_argument("--peer-full-n", action="store_true",
                   help="give queuack 0.1.3 the same DAG sizes as this project (slow: minutes per round)")
    p.add_argument("--tmp", default=None,
                   help="directory for the database files (env BENCH_TMP; default: the system temp dir)")
    p.add_argument("--json", default=str(common.BENCH_DIR / "results.json"), help="where to write the JSON")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    a = p.parse_args(argv)
    if a.runs is None:
        a.runs = 1 if a.quick else int(os.environ.get("BENCH_RUNS", "3"))
    a.only = [x.strip() for x in a.only.split(",") if x.strip()]
    unknown = [x for x in a.only if x not in AREAS]
    if unknown:
        p.error(f"unknown area(s) {', '.join(unknown)}; choose from {', '.join(AREAS)}")
    if a.tmp:
        os.environ["BENCH_TMP"] = a.tmp
    if a.quick:
        a.libcst_runs = min(a.libcst_runs, 1)
    return a


# ---------------------------------------------------------------- formatting

def fmt_value(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if unit == "s":
        return f"{v:.3f} s" if v < 1 else f"{v:.2f} s"
    if unit == "µs":
        return f"{v:.1f} µs"
    return f"{v:,.0f} {unit}" if v >= 100 else f"{v:,.1f} {unit}"


def fmt_range(row) -> str:
    vals = row.values
    if len(vals) < 2:
        return ""
    lo, hi = min(vals), max(vals)
    if row.unit == "s":
        return f"{lo:.2f}..{hi:.2f}"
    if row.unit == "µs":
        return f"{lo:.1f}..{hi:.1f}"
    return f"{lo:,.0f}..{hi:,.0f}" if lo >= 100 else f"{lo:,.1f}..{hi:,.1f}"


def ordered_rows(results: Results) -> list:
    fig_order = []
    for (area, fig, _subj) in results.rows:
        if (area, fig) not in fig_order:
            fig_order.append((area, fig))
    area_rank = {a: i for i, a in enumerate(AREAS)}
    fig_order.sort(key=lambda af: area_rank.get(af[0], 99))

    def subj_rank(s):
        return SUBJECT_ORDER.index(s) if s in SUBJECT_ORDER else len(SUBJECT_ORDER)

    out = []
    for area, fig in fig_order:
        rows = [r for (a, f, _), r in results.rows.items() if a == area and f == fig]
        out.extend(sorted(rows, key=lambda r: subj_rank(r.subject)))
    return out


def table(results: Results, targets, markdown: bool) -> str:
    verdicts = {}
    for t in targets:
        verdicts.setdefault((t.area, t.figure, t.subject), []).append((t, t.evaluate(results)))
    header = ["area", "figure", "subject", "N", "median", "range", "target", "result"]
    lines = []
    for row in ordered_rows(results):
        if row.error and not row.by_round:
            median = "error"
        elif not row.by_round:
            median = "n/a"
        else:
            median = fmt_value(row.median, row.unit)
        note = ""
        if row.extra.get("note"):
            note = row.extra["note"]
        elif row.error and row.by_round:
            note = "failed in some rounds"
        if row.subject == MIGRATE_SCAN and row.extra.get("findings"):
            note = f"{max(row.extra['findings'])} findings"
        if row.extra.get("peak_rss_mb"):
            note = f"peak RSS {max(row.extra['peak_rss_mb']):.0f} MB"
        if row.subject.startswith("LibCST") and row.extra.get("failed"):
            note = f"{row.extra['failed'][-1]} files fail to parse; {len(row.values)} run(s)"
        rng = fmt_range(row) or note
        n = f"{row.n:,}" if row.n else ""
        vs = verdicts.get((row.area, row.figure, row.subject), [])
        first = True
        if not vs:
            lines.append([row.area, row.figure, row.subject, n, median, rng, "", ""])
        for t, v in vs:
            result = f"{v.status} ({v.measured})" if v.measured else v.status
            if first:
                lines.append([row.area, row.figure, row.subject, n, median, rng, t.text, result])
                first = False
            else:
                lines.append(["", "", "", "", "", "", t.text, result])
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        for ln in lines:
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in ln) + " |")
        return "\n".join(out)
    widths = [max(len(h), *(len(ln[i]) for ln in lines)) if lines else len(h)
              for i, h in enumerate(header)]
    right = {3, 4}
    def render(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    out = [render(header), render(["-" * w for w in widths])]
    prev_area = None
    for ln in lines:
        if prev_area is not None and ln[0] and ln[0] != prev_area:
            out.append("")
        if ln[0]:
            prev_area = ln[0]
        out.append(render(ln))
    return "\n".join(out)


def revision() -> str:
    """The commit measured, and whether the measured code differed from it."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=common.ROOT,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "queuack", "migrate"],
                               cwd=common.ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted changes in queuack/ or migrate/' if dirty else ''}" if head else "unknown"


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def main(argv=None) -> int:
    cfg = parse_args(argv)
    started = time.perf_counter()
    when = dt.datetime.now(dt.timezone.utc)
    results = Results()
    rev = revision()  # before the run: the working tree may change while it runs
    load_before = os.getloadavg()[0]  # at the end the load mostly shows this run itself
    log(f"areas {', '.join(cfg.only)}; {cfg.runs} round(s){' (quick)' if cfg.quick else ''}")
    for name in cfg.only:
        try:
            AREAS[name].run(cfg, results)
        except Exception as exc:  # an area that cannot run at all still leaves the rest
            log(f"area {name} failed: {exc}")
            results.note(name, "error", str(exc))
    targets = [t for t in all_targets(SCAN_QUICK if cfg.quick else SCAN) if t.area in cfg.only]
    elapsed = time.perf_counter() - started
    title = (f"Queuack benchmarks at {rev}, {when:%Y-%m-%d %H:%M} UTC, {cfg.runs} round(s), medians"
             f"{' (QUICK smoke run: small N)' if cfg.quick else ''}; "
             f"{os.cpu_count()} CPUs, load before the run {load_before:.1f}; took {elapsed:.0f} s")
    text = table(results, targets, cfg.markdown)
    print(title)
    print()
    print(text)
    corpus = results.notes.get("migrate", {}).get("corpus")
    footer = []
    if corpus:
        footer.append(f"corpus: {corpus['files']:,} files, {corpus['lines']:,} lines from {corpus['source']} "
                      f"(scanned: {corpus['scanned_path']}); LibCST baseline {cfg.libcst_runs} run(s) "
                      f"on {cfg.jobs} processes")
    verdicts = [t.evaluate(results).status for t in targets]
    footer.append(f"targets: {verdicts.count('PASS')} pass, {verdicts.count('MISS')} miss, "
                  f"{verdicts.count('n/a')} not measured")
    for area, notes in results.notes.items():
        if "error" in notes:
            footer.append(f"{area}: could not run: {notes['error']}")
    for row in results.rows.values():
        if row.error:
            footer.append(f"error: {row.area} / {row.figure} / {row.subject}: {row.error}")
    print()
    print("\n".join(footer))

    payload = {
        "title": title,
        "date_utc": when.isoformat(timespec="seconds"),
        "revision": rev,
        "config": {k: v for k, v in vars(cfg).items()},
        "machine": {**machine(), "load_avg_before": load_before},
        "elapsed_s": elapsed,
        "rows": [r.as_dict() for r in ordered_rows(results)],
        "targets": [{"area": t.area, "figure": t.figure, "subject": t.subject, "target": t.text,
                     "status": v.status, "measured": v.measured}
                    for t in targets for v in [t.evaluate(results)]],
        "notes": results.notes,
    }
    os.makedirs(os.path.dirname(os.path.abspath(cfg.json)), exist_ok=True)
    with open(cfg.json, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2, ensure_ascii=False, default=str)
    md = table(results, targets, markdown=True)
    with open(common.BENCH_DIR / "results.md", "w", encoding="utf-8") as fh:
        fh.write(title + "\n\n" + md + "\n\n" + "\n\n".join(footer) + "\n")
    log(f"wrote {cfg.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
