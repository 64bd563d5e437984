"""Both pipelines of examples/spark_etl_example.py, for real, on one local SparkSession.

CI installs the spark extra, so a missing pyspark is a failure here, never a silent skip.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from queuack import DuckQueue, TaskContext

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

sys.path.insert(0, str(EXAMPLES))
import spark_etl_example as example  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    """One SparkSession for the whole module: the example's own, shared by every task."""
    if importlib.util.find_spec("pyspark") is None:
        pytest.fail(
            "pyspark is not installed, so the Spark example cannot be tested. Install the spark extra: "
            '.venv/bin/pip install -e ".[spark]"  (make test does that). It needs Java 17.',
            pytrace=False,
        )
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.fail("Java is not on PATH and JAVA_HOME is not set: PySpark needs Java 17.", pytrace=False)
    session = example.spark()
    yield session
    example.stop_spark()


@pytest.fixture
def queue(tmp_path):
    with DuckQueue(str(tmp_path / "jobs.duckdb")) as q:
        yield q


def test_the_session_is_one_per_process(spark):
    assert example.spark() is spark
    assert spark.sparkContext.master.startswith("local[")
    assert spark.conf.get("spark.sql.shuffle.partitions") == "1"
    assert spark.conf.get("spark.ui.enabled") == "false"


def test_small_data_pipeline_passes_rows_through_the_queue(spark, queue):
    report = example.run_small_data_pipeline(queue, count=40)

    expected: dict[str, float] = defaultdict(float)
    for order in example.sample_orders(40):
        expected[order["region"]] += order["quantity"] * order["unit_price"]
    assert report["regions"] == 4
    assert report["orders"] == 40
    assert report["by_region"] == {region: round(total, 2) for region, total in expected.items()}
    assert report["revenue"] == round(sum(expected.values()), 2)
    assert report["top_region"] == max(expected, key=expected.get)
    # every stage ran as a job of the same queue
    assert queue.stats()["done"] == 3


def test_large_data_pipeline_passes_parquet_paths(spark, queue, tmp_path):
    rows = 20_000
    data_dir = tmp_path / "data"
    summary = example.run_large_data_pipeline(str(data_dir), queue, rows=rows)

    expected: dict[str, int] = defaultdict(int)
    for i in range(rows):
        expected[example.REGIONS[i % 4]] += i % 100 + 1
    assert summary["events"] == rows
    assert summary["groups"] == 4 * 7  # (region, day) pairs
    assert summary["by_region"] == dict(sorted(expected.items()))
    assert summary["amount_cents"] == sum(expected.values())

    # what went through the queue were paths, under one folder per DAG run, with Parquet in them
    output = Path(summary["path"])
    assert output.is_relative_to(data_dir) and output.name == "daily_totals"
    assert list(output.glob("*.parquet"))
    assert list((output.parent / "events").glob("*.parquet"))


def test_a_spark_task_runs_alone_with_a_test_context(spark):
    """A task can be unit-tested without a queue: hand it its upstream values."""
    orders = [
        {"order_id": 1, "region": "north", "quantity": 2, "unit_price": 5.0},
        {"order_id": 2, "region": "north", "quantity": 1, "unit_price": 2.5},
        {"order_id": 3, "region": "west", "quantity": 4, "unit_price": 1.0},
    ]
    result = example.revenue_by_region(context=TaskContext.for_testing({"extract": orders}))
    assert result == [
        {"region": "north", "orders": 2, "revenue": 12.5},
        {"region": "west", "orders": 1, "revenue": 4.0},
    ]
