"""The demo behind `make demo`: the queue and a DAG on the embedded default (an in-process DuckDB file)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from queuack import DAG, DuckQueue, Worker


def square(x: int) -> int:
    return x * x


def extract() -> list[int]:
    return [3, 1, 4, 1, 5, 9, 2, 6]


def transform(context) -> list[int]:
    return sorted(x * 10 for x in context.upstream("extract"))


def load(context) -> dict:
    values = context.upstream("transform")
    return {"count": len(values), "total": sum(values)}


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "demo.duckdb"
        with DuckQueue(str(path)) as q:
            ids = q.enqueue_batch([(square, (n,), {}) for n in range(1, 6)])
            processed = Worker(q, concurrency=2).run(burst=True)
            print(f"queue: {processed} jobs processed, results {[q.get_result(i) for i in ids]}")
            with DAG("etl", queue=q) as dag:
                dag.add_job(extract, name="extract")
                dag.add_job(transform, name="transform", depends_on="extract")
                dag.add_job(load, name="load", depends_on="transform")
            ok = dag.execute()
            print(f"dag {dag.name!r}: {'done' if ok else 'failed'}, load -> {dag.get_result('load')}")
            print(dag.export_mermaid())
            print("stats:", q.stats())


if __name__ == "__main__":
    main()
