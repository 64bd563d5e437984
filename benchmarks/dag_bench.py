"""DAG figures: this project against queuack 0.1.3, the same workload script.

- DAG fan-out 1 -> N, execute: nodes/s of dag.execute() for a root and N
  leaves that each read context.upstream("root") (build and submit untimed).
- DAG chain of N, execute: nodes/s of dag.execute() for a chain where every
  node reads its parent with context.upstream(name).
  Beside it, for this project, a reference: the same number of bare
  single-row DuckDB UPDATEs (done + result) on its jobs table, each
  autocommitted (what one DuckDB commit per node costs).
- DAG build + submit: DAG(), N x add_job (a tree, fan-out 10) and submit,
  in seconds scaled to 10,000 nodes (exact for N = 10,000).
- context overhead per job: Job.execute() on a claimed job whose function
  takes ``context`` minus the same for one that does not (µs, lower is better).
  Both libraries build a TaskContext for every job, so this is the cost of
  asking for it (signature check, injection); the row below it, Job.execute()
  of the context task, is the whole per-job execution path and so bounds what
  the context can cost in total.

queuack 0.1.3 runs at 30-45 DAG nodes/s and needs about a minute for a
10,000-node submit, so by default it gets smaller N (figures are per node);
--peer-full-n gives it the same N as this project.
"""

from __future__ import annotations

from . import common
from .common import log
from .targets import CHAIN, CONTEXT, EXECUTE, FANOUT, OURS, Q013, SUBMIT, UPDATE_FLOOR

FULL = {"fanout": 1000, "chain": 200, "submit": 10000, "context": 20000}
QUICK = {"fanout": 200, "chain": 50, "submit": 2000, "context": 5000}
PEER_FULL = {"fanout": 300, "chain": 100, "submit": 2000, "context": 20000}
PEER_QUICK = {"fanout": 50, "chain": 20, "submit": 300, "context": 5000}


def sizes(cfg, flavor: str) -> dict:
    if flavor == "ours" or cfg.peer_full_n:
        return dict(QUICK if cfg.quick else FULL)
    return dict(PEER_QUICK if cfg.quick else PEER_FULL)


def run(cfg, results) -> None:
    subjects = [("ours", OURS, common.PROJECT_PYTHON)]
    try:
        subjects.append(("queuack013", Q013, common.ensure_env("queuack013")))
    except Exception as exc:  # e.g. no package index: this project is still measured
        log(f"cannot set up {Q013}: {exc}")
        for fig in (FANOUT, CHAIN, SUBMIT, CONTEXT, EXECUTE):
            results.error("dag", fig, Q013, exc)
    for r in range(cfg.runs):
        for flavor, label, python in common.rotated(subjects, r):
            n = sizes(cfg, flavor)
            log(f"dag round {r + 1}/{cfg.runs}: {label}")
            args = ["--flavor", flavor]
            for k, v in n.items():
                args += [f"--{k}", str(v)]
            try:
                out = common.run_workload(python, "dag_workload.py", args)
            except Exception as exc:
                for fig in (FANOUT, CHAIN, SUBMIT, CONTEXT):
                    results.error("dag", fig, label, exc)
                log(f"  failed: {str(exc).splitlines()[0]}")
                continue
            f = out["fanout"]
            results.add("dag", FANOUT, label, r, f["per_sec"], n=n["fanout"], unit="nodes/s",
                        extra={"seconds": f["seconds"]})
            f = out["chain"]
            results.add("dag", CHAIN, label, r, f["per_sec"], n=f["n"], unit="nodes/s",
                        extra={"seconds": f["seconds"]})
            if out.get("update_floor"):
                fl = out["update_floor"]
                results.add("dag", CHAIN, UPDATE_FLOOR, r, fl["per_sec"], n=fl["n"], unit="nodes/s")
            f = out["submit"]
            results.add("dag", SUBMIT, label, r, f["seconds"] * 10_000 / f["n"], n=f["n"],
                        unit="s", higher_is_better=False, extra={"seconds": f["seconds"]})
            f = out["context"]
            results.add("dag", CONTEXT, label, r, f["overhead_us"], n=f["n"], unit="µs",
                        higher_is_better=False,
                        extra={"ctx_us": f["ctx_us"], "plain_us": f["plain_us"]})
            results.add("dag", EXECUTE, label, r, f["ctx_us"], n=f["n"], unit="µs",
                        higher_is_better=False)
            log(f"  fan-out {out['fanout']['per_sec']:,.0f}/s, chain {out['chain']['per_sec']:,.0f}/s, "
                f"submit {out['submit']['seconds']:.2f} s, context {f['overhead_us']:.1f} µs")
