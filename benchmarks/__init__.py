"""Side-by-side benchmarks for Queuack and the tools it is compared with.

Run everything with ``make bench`` (``python -m benchmarks.run``); see
docs/BENCHMARKS.md for what each figure measures. Outputs (peer virtual
environments, the corpus, results.json) live under ``.bench/``.

Layout:

- ``run.py``        the command line: rounds, medians, the table, results.json
- ``common.py``     paths, peer environments, subprocess plumbing, statistics
- ``targets.py``    the speed targets of issue 6 and how each is judged
- ``queue_bench.py``, ``dag_bench.py``, ``migrate_bench.py``
                    one module per area: what to run, with which N
- ``workloads/``    standalone scripts, one per library and area; each runs in
                    the interpreter of the library it measures and prints one
                    JSON object on stdout
"""
