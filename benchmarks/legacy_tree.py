"""A generated tree of legacy queuack modules, every one of which `migrate` must analyse.

Each module (about 1 KB) defines an extract step and two tasks that wire their parent by hand
(a parent job id and a queue path as parameters, ``DuckQueue(path)`` opened in the task,
``get_result``, ``close``), and a ``build`` function that enqueues them on a DAG. The names and
bodies vary from module to module so that no two files are the same text.

    python -m benchmarks.legacy_tree DIR [--files 1500]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

TEMPLATE = '''"""Nightly pipeline number {i}: extract, clean and load the {topic} rows."""

import json

from queuack import DAG, DuckQueue


def extract_{i}(source):
    """Read the raw {topic} rows."""
    with open(source, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def clean_{i}(raw_id, queue_path):
    """Drop the rows without a {field}."""
    q = DuckQueue(queue_path)
    rows = q.get_result(raw_id)
    q.close()
    return [row for row in rows if row.get("{field}") is not None]


def load_{i}(clean_id, queue_path, limit={limit}):
    # keep the first rows only
    q = DuckQueue(queue_path)
    try:
        rows = q.get_result(clean_id)
    finally:
        q.close()
    return sum(float(row["{field}"]) for row in rows[:limit])


def build_{i}(path, source):
    q = DuckQueue(path)
    with DAG("{topic}-{i}", queue=q) as dag:
        e = dag.add_job(extract_{i}, name="extract", args=(source,))
        c = dag.add_job(clean_{i}, name="clean", args=(e, path), depends_on="extract")
        dag.add_job(load_{i}, name="load", args=(c, path), depends_on="clean")
    return dag
'''

TOPICS = ("sales", "orders", "clicks", "invoices", "visits", "refunds", "signups")
FIELDS = ("amount", "total", "count", "value", "price")


def module_text(i: int) -> str:
    return TEMPLATE.format(i=i, topic=TOPICS[i % len(TOPICS)], field=FIELDS[i % len(FIELDS)],
                           limit=10 + i % 90)


def generate(root: Path, files: int) -> Path:
    """Write `files` modules under root (20 a folder), replacing whatever was there."""
    if root.exists():
        shutil.rmtree(root)
    for i in range(files):
        folder = root / f"pipelines_{i // 20:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"pipeline_{i:04d}.py").write_text(module_text(i), encoding="utf-8")
    return root


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.legacy_tree", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir")
    p.add_argument("--files", type=int, default=1500)
    a = p.parse_args(argv)
    generate(Path(a.dir), a.files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
