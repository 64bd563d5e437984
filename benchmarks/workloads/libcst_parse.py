"""Baseline: parse every .py file under a directory with LibCST, nothing else.

Uses a process pool of --jobs workers (the same parallelism as ``migrate``).
Prints {"files": n, "parsed": n, "failed": n, "seconds": s}.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import _wl


def parse_one(path: str) -> bool:
    import libcst

    with open(path, "rb") as fh:
        data = fh.read()
    try:
        libcst.parse_module(data)
        return True
    except Exception:  # ParserSyntaxError, RecursionError, undecodable bytes
        return False


def python_files(root: str) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        out.extend(os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".py"))
    return out


def main():
    p = _wl.parser(__doc__)
    p.add_argument("root")
    p.add_argument("--jobs", type=int, default=2)
    a = p.parse_args()
    start = time.perf_counter()
    files = python_files(a.root)
    with ProcessPoolExecutor(max_workers=a.jobs) as pool:
        results = list(pool.map(parse_one, files, chunksize=8))
    secs = time.perf_counter() - start
    _wl.emit({"files": len(files), "parsed": sum(results), "failed": len(results) - sum(results),
              "seconds": secs})


if __name__ == "__main__":
    sys.exit(main())
