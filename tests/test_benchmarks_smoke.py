"""The benchmark harness imports and renders its table; no timing is measured or asserted here."""

import pytest

from benchmarks import run, targets
from benchmarks.results import Results, round_ratio


def test_parse_args_quick_and_only():
    cfg = run.parse_args(["--quick", "--only", "queue,dag"])
    assert cfg.runs == 1 and cfg.only == ["queue", "dag"] and cfg.libcst_runs == 1


def test_targets_use_ratios_within_rounds_and_render():
    res = Results()
    for rnd, (ours, old, huey, pq) in enumerate([(6000, 40, 2000, 1500), (3000, 20, 1200, 400)]):
        res.add("queue", targets.DRAIN, targets.OURS, rnd, ours, n=10000, unit="jobs/s")
        res.add("queue", targets.DRAIN, targets.Q013, rnd, old, n=300, unit="jobs/s")
        res.add("queue", targets.DRAIN, targets.HUEY, rnd, huey, n=10000, unit="jobs/s")
        res.add("queue", targets.DRAIN, targets.PQ, rnd, pq, n=10000, unit="jobs/s")
    ratio, rounds = round_ratio(res.get("queue", targets.DRAIN, targets.OURS),
                                [res.get("queue", targets.DRAIN, targets.HUEY),
                                 res.get("queue", targets.DRAIN, targets.PQ)])
    assert rounds == 2 and ratio == 2.75  # median of 3.0 and 2.5
    by_text = {t.text: t.evaluate(res) for t in targets.all_targets() if t.figure == targets.DRAIN}
    assert by_text[">= 5,000 jobs/s"].status == "MISS"  # median 4,500
    assert by_text[">= 25x queuack 0.1.3"].status == "PASS"
    assert by_text[">= 3x best SQLite peer"].status == "MISS"
    res.error("queue", targets.ENQ_ONE, targets.OURS, RuntimeError("boom"))
    text = run.table(res, targets.all_targets(), markdown=False)
    assert "drain through worker" in text and "error" in text
    md = run.table(res, targets.all_targets(), markdown=True)
    assert md.splitlines()[0].startswith("| area |")


@pytest.fixture(params=["duckdb", "postgres"])
def bench_location(request, tmp_path):
    if request.param == "postgres":
        return request.getfixturevalue("pg_url")
    return str(tmp_path / "bench.duckdb")


def test_ui_benchmark_pages_answer_on_its_filled_queue(bench_location):
    """Every page the ui benchmark times exists on the queue it fills, on each backend (no timing here)."""
    from starlette.testclient import TestClient

    from benchmarks import ui_bench
    from queuack import DuckQueue
    from queuack.ui import create_app

    ids = ui_bench.fill(bench_location, 2000)
    with DuckQueue(bench_location) as queue:
        http = TestClient(create_app(queue), base_url="http://127.0.0.1")
        for name, page in ui_bench.pages(ids).items():
            assert http.get(page).status_code == 200, name
        assert queue.stats()["done"] == 1998 and queue.stats()["failed"] == 2
