"""Queue figures: this project against queuack 0.1.3, huey and persist-queue.

Every subject runs in its own subprocess (its own interpreter, for the peers
the venvs under .bench/), one subprocess per subject per round, subjects in a
rotating order. File databases in a scratch directory, trivial jobs.

Figures (all per second, higher is better):
- enqueue one by one: N calls of the library's enqueue/put. Beside it, measured
                      in this project's process, a reference: a bare single-row
                      DuckDB INSERT into the same jobs table, autocommitted
                      (what one DuckDB commit per job costs).
- enqueue batch:      the library's batch enqueue, 1,000 jobs a call
                      (huey and persist-queue have none: n/a).
- drain through worker: N jobs enqueued beforehand (untimed), then the time
                      for the library's worker (or its consume-and-ack loop)
                      to run them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import common
from .common import log
from .targets import DRAIN, ENQ_BATCH, ENQ_ONE, FLOOR, HUEY, OURS, PQ, Q013

FIGURES = {"enqueue_one": ENQ_ONE, "enqueue_batch": ENQ_BATCH, "drain": DRAIN}


@dataclass
class Subject:
    label: str
    env: str | None        # peer env name, None for the project venv
    script: str
    full: dict
    quick: dict

    def args(self, cfg) -> list[str]:
        sizes = dict(self.quick if cfg.quick else self.full)
        if cfg.n is not None:
            sizes = {k: cfg.n for k in sizes}
        out = []
        for k, v in sizes.items():
            out += [f"--{k.replace('_', '-')}", str(v)]
        if self.env is None and cfg.concurrency:
            out += ["--concurrency", str(cfg.concurrency)]
        return out


SUBJECTS = [
    Subject(OURS, None, "queue_ours.py",
            full={"n_one": 2000, "n_batch": 10000, "n_drain": 10000},
            quick={"n_one": 300, "n_batch": 2000, "n_drain": 2000}),
    # queuack 0.1.3 runs about 130 enqueues/s, 500 batch rows/s and 40-60 jobs/s
    # through its Worker here, so it gets smaller N (the figure is per second).
    Subject(Q013, "queuack013", "queue_queuack013.py",
            full={"n_one": 500, "n_batch": 1000, "n_drain": 300},
            quick={"n_one": 100, "n_batch": 500, "n_drain": 60}),
    Subject(HUEY, "peers", "queue_huey.py",
            full={"n_one": 5000, "n_drain": 10000},
            quick={"n_one": 1000, "n_drain": 2000}),
    Subject(PQ, "peers", "queue_persistqueue.py",
            full={"n_one": 5000, "n_drain": 10000},
            quick={"n_one": 1000, "n_drain": 2000}),
]


def run(cfg, results) -> None:
    pythons, subjects = {}, []
    for s in SUBJECTS:
        try:
            pythons[s.label] = common.PROJECT_PYTHON if s.env is None else common.ensure_env(s.env)
            subjects.append(s)
        except Exception as exc:  # e.g. no package index: the other subjects still run
            log(f"cannot set up {s.label}: {exc}")
            for fig in FIGURES.values():
                results.error("queue", fig, s.label, exc)
    for r in range(cfg.runs):
        for s in common.rotated(subjects, r):
            log(f"queue round {r + 1}/{cfg.runs}: {s.label}")
            try:
                out = common.run_workload(pythons[s.label], s.script, s.args(cfg))
            except Exception as exc:
                for fig in FIGURES.values():
                    results.error("queue", fig, s.label, exc)
                log(f"  failed: {str(exc).splitlines()[0]}")
                continue
            floor = out.get("insert_floor")
            if floor is not None:
                results.add("queue", ENQ_ONE, FLOOR, r, floor["per_sec"], n=floor["n"], unit="jobs/s")
            for key, fig in FIGURES.items():
                f = out.get(key)
                if f is None:
                    results.add("queue", fig, s.label, r, None, unit="jobs/s")
                    results.row("queue", fig, s.label).extra["note"] = "no batch API"
                    continue
                extra = {k: v for k, v in f.items() if k not in ("n", "seconds", "per_sec")}
                results.add("queue", fig, s.label, r, f["per_sec"], n=f["n"], unit="jobs/s",
                            extra={"seconds": f["seconds"], **extra})
                log(f"  {key}: {f['per_sec']:,.0f} jobs/s (n={f['n']})")
