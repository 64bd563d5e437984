"""Memory and time of streaming tasks: N rows through `generator_task` and back through StreamReader.

    python -m benchmarks.stream_bench                 # 1,000,000 rows, every format
    python -m benchmarks.stream_bench --rows 100000 --formats parquet,csv

Each format runs in a fresh process, so that its peak resident memory (ru_maxrss) is its own. The
baseline row is the same process doing nothing but importing queuack: the difference is what
streaming costs. A list of the same rows held in memory is shown for comparison.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from .common import PROJECT_PYTHON, ROOT

_CHILD = r"""
import json, resource, sys, tempfile, time
import queuack
from queuack import StreamReader, generator_task
fmt, rows = sys.argv[1], int(sys.argv[2])

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

out = {"baseline_mb": peak_mb()}
if fmt == "list":
    data = [{"id": i, "name": f"user_{i}", "value": i * 2.5} for i in range(rows)]
    out.update(write_s=0.0, read_s=0.0, count=len(data))
else:
    @generator_task(format=fmt, directory=tempfile.mkdtemp())
    def produce():
        for i in range(rows):
            yield {"id": i, "name": f"user_{i}", "value": i * 2.5}
    started = time.perf_counter()
    path = produce()
    out["write_s"] = time.perf_counter() - started
    started = time.perf_counter()
    total = 0
    for item in StreamReader(path):
        total += 1
    out.update(read_s=time.perf_counter() - started, count=total)
out["peak_mb"] = peak_mb()
print(json.dumps(out))
"""


def measure(fmt: str, rows: int) -> dict:
    done = subprocess.run([str(PROJECT_PYTHON), "-c", _CHILD, fmt, str(rows)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.stream_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--formats", default="jsonl,pickle,csv,parquet,list")
    a = p.parse_args(argv)
    print(f"{a.rows:,} rows of {{id, name, value}}")
    print(f"{'format':<10}{'write s':>10}{'read s':>10}{'peak MB':>10}{'over import MB':>16}")
    for fmt in a.formats.split(","):
        r = measure(fmt, a.rows)
        assert r["count"] == a.rows, r
        print(f"{fmt:<10}{r['write_s']:>10.2f}{r['read_s']:>10.2f}{r['peak_mb']:>10.1f}"
              f"{r['peak_mb'] - r['baseline_mb']:>16.1f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
