"""DAG figures, the same code for this project and for queuack 0.1.3.

Run it with the interpreter whose ``queuack`` is to be measured and say which
one it is with --flavor (ours | queuack013); the few API differences are
handled in ``Flavor``. Prints {"fanout": fig, "chain": fig, "submit": fig,
"context": {...}}.

- fanout:  root -> N leaves; every leaf calls context.upstream("root").
           Timed: dag.execute() after submit (build and submit untimed).
- chain:   N nodes, each reads its parent with context.upstream(name).
           Timed: dag.execute() after submit.
           For this project also a reference: N bare single-row DuckDB
           UPDATEs on its jobs table, each autocommitted (update_floor).
- submit:  build (DAG(), N x add_job) and submit of an N-node tree, fan-out 10.
- context: per-job cost of injecting the TaskContext: Job.execute() on a
           claimed job whose function takes ``context`` minus the same for a
           function that does not, M calls each in interleaved blocks.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time

import _wl


# ---- task functions (module level, so every serializer can reference them)

def root():
    return {"payload": list(range(10))}


def leaf(i, context):
    return context.upstream("root")["payload"][i % 10]


def start():
    return 0


def link(parent, context):
    return context.upstream(parent) + 1


def noop(i=0):
    return None


def with_context(i, context):
    return None


def plain(i):
    return None


class Flavor:
    def __init__(self, name):
        self.name = name
        import queuack

        self.mod = queuack

    def queue(self, d):
        if self.name == "queuack013":
            return self.mod.DuckQueue(os.path.join(d, "jobs.duckdb"), workers_num=None)
        return self.mod.DuckQueue(os.path.join(d, "jobs.duckdb"))

    def dag(self, name, q):
        return self.mod.DAG(name, queue=q)

    def execute(self, dag):
        if self.name == "queuack013":
            # its default poll_interval (0.1 s) sleeps whenever a claim comes back
            # empty; 10 ms keeps that from dominating
            return dag.execute(poll_interval=0.01)
        return dag.execute()

    def prepare_execute(self, q):
        if self.name == "queuack013":
            # its Job.execute() builds a context only when the thread carries a queue
            threading.current_thread()._queuack_queue = q


def status_name(dag):
    st = dag.status
    return str(getattr(st, "value", st)).lower()


def measure_fanout(fl, base, n):
    with _wl.scratch_dir(base) as d:
        q = fl.queue(d)
        try:
            dag = fl.dag("fanout", q)
            dag.add_job(root, name="root")
            leaf_ids = [dag.add_job(leaf, name=f"leaf{i}", depends_on="root", args=(i,))
                        for i in range(n)]
            dag.submit()
            ok = []
            secs = _wl.timed(lambda: ok.append(fl.execute(dag)))
            assert ok[0], status_name(dag)
            assert q.get_result(leaf_ids[-1]) == (n - 1) % 10
        finally:
            q.close()
    return _wl.figure(n + 1, secs)


def measure_chain(fl, base, n):
    with _wl.scratch_dir(base) as d:
        q = fl.queue(d)
        try:
            dag = fl.dag("chain", q)
            last = dag.add_job(start, name="c0")
            for i in range(1, n):
                last = dag.add_job(link, name=f"c{i}", depends_on=f"c{i - 1}", args=(f"c{i - 1}",))
            dag.submit()
            ok = []
            secs = _wl.timed(lambda: ok.append(fl.execute(dag)))
            assert ok[0], status_name(dag)
            assert q.get_result(last) == n - 1
        finally:
            q.close()
    return _wl.figure(n, secs)


def measure_submit(fl, base, n):
    with _wl.scratch_dir(base) as d:
        q = fl.queue(d)
        try:
            def body():
                dag = fl.dag("wide", q)
                dag.add_job(noop, name="n0")
                for i in range(1, n):
                    dag.add_job(noop, name=f"n{i}", depends_on=f"n{(i - 1) // 10}", args=(i,))
                dag.submit()
            secs = _wl.timed(body)
            stats = q.stats()
            assert sum(stats.values()) >= n, stats
        finally:
            q.close()
    return _wl.figure(n, secs)


def measure_context(fl, base, m, blocks=10):
    with _wl.scratch_dir(base) as d:
        q = fl.queue(d)
        try:
            q.enqueue(with_context, args=(1,), queue="ctx")
            q.enqueue(plain, args=(1,), queue="plain")
            ctx_job, plain_job = q.claim(queue="ctx"), q.claim(queue="plain")
            assert ctx_job is not None and plain_job is not None
            fl.prepare_execute(q)
            per = max(1, m // blocks)
            times = {"ctx": [], "plain": []}
            with _wl.no_gc():
                for _ in range(blocks):
                    for key, job in (("plain", plain_job), ("ctx", ctx_job)):
                        ex = job.execute
                        t0 = time.perf_counter()
                        for _ in range(per):
                            ex()
                        times[key].append((time.perf_counter() - t0) / per)
        finally:
            q.close()
    ctx_us = statistics.median(times["ctx"]) * 1e6
    plain_us = statistics.median(times["plain"]) * 1e6
    return {"n": per * blocks, "ctx_us": ctx_us, "plain_us": plain_us,
            "overhead_us": ctx_us - plain_us}


def main():
    p = _wl.parser(__doc__)
    p.add_argument("--flavor", choices=["ours", "queuack013"], required=True)
    p.add_argument("--fanout", type=int, default=1000)
    p.add_argument("--chain", type=int, default=200)
    p.add_argument("--submit", type=int, default=10000)
    p.add_argument("--context", type=int, default=20000)
    p.add_argument("--figures", default="fanout,chain,submit,context")
    a = p.parse_args()
    fl = Flavor(a.flavor)
    want = set(a.figures.split(","))
    out = {}
    if "fanout" in want:
        out["fanout"] = measure_fanout(fl, a.tmp, a.fanout)
    if "chain" in want:
        out["chain"] = measure_chain(fl, a.tmp, a.chain)
        if a.flavor == "ours":
            import floors

            out["update_floor"] = floors.update_floor(a.tmp, a.chain)
    if "submit" in want:
        out["submit"] = measure_submit(fl, a.tmp, a.submit)
    if "context" in want:
        out["context"] = measure_context(fl, a.tmp, a.context)
    _wl.emit(out)


if __name__ == "__main__":
    sys.exit(main())
