"""PostgreSQL figures: this project against PgQueuer and procrastinate, on one throwaway server.

The runner starts a PostgreSQL server in a temporary directory (tests/pgserver.py, Debian's binaries)
for the whole area; every subject gets fresh databases on it for every round, so all three measure
the same server side by side. Each subject runs in its own interpreter (the peers in their own
venvs under .bench/), subjects in a rotating order.

Figures (per second, higher is better):
- enqueue batch:      N jobs, 1,000 per call (enqueue_batch / Queries.enqueue / batch_defer).
- drain, 1 process:   N no-op jobs enqueued beforehand (untimed); the worker process is forked
                      first and released when the clock starts; until it returns with the queue empty.
- drain, 4 processes: the same with four worker processes.
- DAG fan-out 1 -> N: this project only (the peers have no DAGs): the root and N leaves, each
                      reading context.upstream("root"), run by two worker processes.
"""

from __future__ import annotations

import itertools
import sys

from . import common
from .common import log
from .targets import (PG_DRAIN_1, PG_DRAIN_4, PG_ENQ_BATCH, PG_FANOUT, OURS_PG, PGQUEUER,
                      PROCRASTINATE)

FIGURES = {"enqueue_batch": PG_ENQ_BATCH, "drain_1": PG_DRAIN_1, "drain_4": PG_DRAIN_4, "fanout": PG_FANOUT}
SUBJECTS = [(OURS_PG, None, "pg_ours.py"), (PGQUEUER, "pgqueuer", "pg_pgqueuer.py"),
            (PROCRASTINATE, "procrastinate", "pg_procrastinate.py")]
# procrastinate runs a few hundred jobs a second: smaller drains keep a round short (the figure is per second)
SIZES = {"full": {"n_batch": 20000, "n_drain": 20000, "n_dag": 1000},
         "quick": {"n_batch": 2000, "n_drain": 2000, "n_dag": 200}}
SLOW_DRAIN = {PROCRASTINATE: {"full": 3000, "quick": 500}}


def run(cfg, results) -> None:
    sys.path.insert(0, str(common.ROOT / "tests"))
    from pgserver import PgServer, ServerUnavailable

    pythons, subjects = {}, []
    for label, env, script in SUBJECTS:
        try:
            pythons[label] = common.PROJECT_PYTHON if env is None else common.ensure_env(env)
            subjects.append((label, env, script))
        except Exception as exc:  # e.g. no package index: the other subjects still run
            log(f"cannot set up {label}: {exc}")
            for fig in FIGURES.values():
                results.error("postgres", fig, label, exc)
    try:
        server = PgServer().start()
    except ServerUnavailable as exc:
        log(f"no PostgreSQL server for the postgres area: {exc}")
        for label, _, _ in SUBJECTS:
            for fig in FIGURES.values():
                results.error("postgres", fig, label, exc)
        return
    numbers = itertools.count()
    try:
        for r in range(cfg.runs):
            for label, env, script in common.rotated(subjects, r):
                log(f"postgres round {r + 1}/{cfg.runs}: {label}")
                sizes = dict(SIZES["quick" if cfg.quick else "full"])
                if label in SLOW_DRAIN:
                    sizes["n_drain"] = SLOW_DRAIN[label]["quick" if cfg.quick else "full"]
                if cfg.n is not None:
                    sizes = {k: cfg.n for k in sizes}
                args = [a for k, v in sizes.items() for a in (f"--{k.replace('_', '-')}", str(v))]
                for _ in FIGURES:
                    args += ["--url", server.create_database(f"bench_{next(numbers)}")]
                try:
                    out = common.run_workload(pythons[label], script, args)
                except Exception as exc:
                    for fig in FIGURES.values():
                        results.error("postgres", fig, label, exc)
                    log(f"  failed: {str(exc).splitlines()[0]}")
                    continue
                for key, fig in FIGURES.items():
                    f = out.get(key)
                    if f is None:
                        continue
                    extra = {k: v for k, v in f.items() if k not in ("n", "seconds", "per_sec")}
                    unit = "nodes/s" if key == "fanout" else "jobs/s"
                    results.add("postgres", fig, label, r, f["per_sec"], n=f["n"], unit=unit,
                                extra={"seconds": f["seconds"], **extra})
                    log(f"  {key}: {f['per_sec']:,.0f} {unit} (n={f['n']})")
    finally:
        server.stop()
