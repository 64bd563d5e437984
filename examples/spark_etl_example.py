"""Extract -> transform on Spark -> load, on the TaskContext, in two patterns.

1. Small data: every task returns its rows (plain lists of dicts) and the queue carries them to
   the next task, which reads them with ``context.upstream("<parent>")``.
2. Large data: tasks write Parquet with Spark and return only the path; the next task reads the
   path from its parent and opens the files itself. The queue carries a short string, however
   large the data.

No task takes a job id or a queue path: a task names its parents, and the DAG wires them.

One SparkSession per process. Tasks run inside the worker process (here ``dag.execute()`` runs
them in this process; ``queuack worker`` would run them in its own), so every task of that process
shares the session that ``spark()`` gets or creates on first use. Starting a JVM costs seconds;
a session per task would cost that every time.

Run it:  .venv/bin/pip install -e ".[spark]"  then  .venv/bin/python examples/spark_etl_example.py
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

from queuack import DAG, DuckQueue, get_context

# -- the session ---------------------------------------------------------------------------------

_session = None
_session_lock = threading.Lock()
_sigint_before_spark = None  # PySpark replaces the SIGINT handler and never puts it back

_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
# PySpark's gateway counts as a shell: without this, Spark announces the shell's log level
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""


def spark():
    """The process's SparkSession: created on first use, then shared by every task of this process.

    Local mode on one core with one shuffle partition (the default 200 is made for clusters; the
    data here fits one partition), no web UI, and only errors in the log. Safe to call from
    several worker threads at once: they all get the same session, which runs their jobs side by side.
    """
    global _session
    with _session_lock:
        if _session is None or _session.sparkContext._jsc is None:
            try:
                from pyspark.sql import SparkSession
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise RuntimeError(
                    'pyspark is not installed: run  .venv/bin/pip install -e ".[spark]"  (needs Java 17)'
                ) from exc
            if "SPARK_CONF_DIR" not in os.environ:  # quiet logging, unless the user configured Spark
                conf_dir = Path(tempfile.gettempdir()) / "queuack-spark-conf"
                conf_dir.mkdir(exist_ok=True)
                (conf_dir / "log4j2.properties").write_text(_LOG4J2)
                os.environ["SPARK_CONF_DIR"] = str(conf_dir)
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            global _sigint_before_spark
            if _sigint_before_spark is None:
                _sigint_before_spark = signal.getsignal(signal.SIGINT)
            _session = (
                SparkSession.builder.master("local[1]")
                .appName("queuack-spark-etl")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.shuffle.partitions", "1")
                .config("spark.default.parallelism", "1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.sql.adaptive.enabled", "false")
                .getOrCreate()
            )
            _session.sparkContext.setLogLevel("ERROR")
        return _session


def stop_spark() -> None:
    """Stop the process's session (at the end of main(), or of a test module)."""
    global _session
    with _session_lock:
        if _session is not None:
            _session.stop()
            _session = None
        # SparkContext installed a Ctrl-C handler that cancels its (now stopped) jobs: without the
        # previous one back, Ctrl-C would no longer raise KeyboardInterrupt as usual in this process
        global _sigint_before_spark
        if _sigint_before_spark is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, _sigint_before_spark)
            _sigint_before_spark = None


# -- pipeline 1: small data, through the queue ---------------------------------------------------

REGIONS = ("north", "south", "east", "west")


def sample_orders(count: int = 40) -> list[dict]:
    """Deterministic orders, so that the example and its test agree on the expected report."""
    return [
        {"order_id": i, "region": REGIONS[i % 4], "quantity": 1 + i % 5, "unit_price": 2.5 * (1 + i % 3)}
        for i in range(count)
    ]


def extract_orders(count: int = 40) -> list[dict]:
    """Extract: in a real pipeline, rows from an API or a database. Plain dicts travel through the queue."""
    return sample_orders(count)


def revenue_by_region(context) -> list[dict]:
    """Transform on Spark: the parent's rows become a DataFrame; the aggregate comes back as dicts."""
    from pyspark.sql import functions as F

    orders = context.upstream("extract")
    df = spark().createDataFrame(orders)
    summary = (
        df.withColumn("revenue", F.col("quantity") * F.col("unit_price"))
        .groupBy("region")
        .agg(F.count("*").alias("orders"), F.round(F.sum("revenue"), 2).alias("revenue"))
        .orderBy("region")
    )
    return [row.asDict() for row in summary.collect()]


def load_report(context) -> dict:
    """Load: here, a report (a real pipeline would write to a warehouse or send it somewhere)."""
    rows = context.upstream("transform")
    return {
        "regions": len(rows),
        "orders": sum(r["orders"] for r in rows),
        "revenue": round(sum(r["revenue"] for r in rows), 2),
        "top_region": max(rows, key=lambda r: r["revenue"])["region"],
        "by_region": {r["region"]: r["revenue"] for r in rows},
    }


def run_small_data_pipeline(queue: DuckQueue | None = None, count: int = 40) -> dict:
    """Build and run pipeline 1 in this process; returns the load task's report."""
    with DAG("orders-small", queue=queue) as dag:
        dag.add_job(extract_orders, name="extract", kwargs={"count": count})
        dag.add_job(revenue_by_region, name="transform", depends_on="extract")
        dag.add_job(load_report, name="load", depends_on="transform")
    try:
        if not dag.execute():
            raise RuntimeError(f"pipeline {dag.name!r} failed: {_failures(dag)}")
        return dag.get_result("load")
    finally:
        dag.close()


# -- pipeline 2: large data, by path -------------------------------------------------------------


def stage_path(data_dir: str, stage: str) -> str:
    """Where a stage writes: one folder per DAG run and stage. A helper, not a task: it reaches the
    running task's context through get_context() instead of taking ids as parameters."""
    context = get_context()
    run = context.dag_run_id if context is not None and context.dag_run_id else "adhoc"
    return str(Path(data_dir) / run / stage)


def extract_events(data_dir: str, rows: int = 100_000) -> str:
    """Extract: generate `rows` synthetic sale events with Spark and write them as Parquet.
    Returns the path; the rows themselves never enter the queue."""
    from pyspark.sql import functions as F

    path = stage_path(data_dir, "events")
    regions = F.array(*[F.lit(r) for r in REGIONS])
    (
        spark().range(rows)
        .select(
            F.col("id").alias("event_id"),
            F.element_at(regions, (F.col("id") % 4 + 1).cast("int")).alias("region"),
            (F.col("id") % 7).cast("int").alias("day"),
            ((F.col("id") % 100) + 1).cast("long").alias("amount_cents"),
        )
        .write.mode("overwrite")
        .parquet(path)
    )
    return path


def daily_totals(data_dir: str, context) -> str:
    """Transform on Spark: read the parent's Parquet, aggregate per region and day, write Parquet."""
    from pyspark.sql import functions as F

    events = spark().read.parquet(context.upstream("extract"))
    path = stage_path(data_dir, "daily_totals")
    (
        events.groupBy("region", "day")
        .agg(F.count("*").alias("events"), F.sum("amount_cents").alias("amount_cents"))
        .write.mode("overwrite")
        .parquet(path)
    )
    return path


def load_summary(context) -> dict:
    """Load: read the aggregate (small by now) and summarise it."""
    from pyspark.sql import functions as F

    path = context.upstream("transform")
    totals = spark().read.parquet(path)
    per_region = {
        r["region"]: int(r["amount_cents"])
        for r in totals.groupBy("region").agg(F.sum("amount_cents").alias("amount_cents")).collect()
    }
    row = totals.agg(F.count("*").alias("groups"), F.sum("events").alias("events")).first()
    return {
        "path": path,
        "groups": int(row["groups"]),
        "events": int(row["events"]),
        "amount_cents": sum(per_region.values()),
        "by_region": dict(sorted(per_region.items())),
    }


def run_large_data_pipeline(data_dir: str, queue: DuckQueue | None = None, rows: int = 100_000) -> dict:
    """Build and run pipeline 2 in this process; returns the load task's summary."""
    with DAG("events-large", queue=queue) as dag:
        dag.add_job(extract_events, name="extract", args=(data_dir,), kwargs={"rows": rows})
        dag.add_job(daily_totals, name="transform", depends_on="extract", args=(data_dir,))
        dag.add_job(load_summary, name="load", depends_on="transform")
    try:
        if not dag.execute():
            raise RuntimeError(f"pipeline {dag.name!r} failed: {_failures(dag)}")
        return dag.get_result("load")
    finally:
        dag.close()


def _failures(dag: DAG) -> str:
    notes = []
    for name in dag.jobs:
        job = dag.get_job(name)
        if job.status.value != "done":
            notes.append(f"{name}: {job.status.value} {job.error or ''}".strip())
    return "; ".join(notes)


# -- main ------------------------------------------------------------------------------------------


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="queuack-spark-"))
    try:
        session = spark()
        print(f"Spark {session.version} in local mode ({session.sparkContext.master}), one session for this process")
        with DuckQueue(str(workdir / "jobs.duckdb")) as queue:
            report = run_small_data_pipeline(queue)
            print("\n1. small data, rows passed through the queue: extract -> transform (Spark) -> load")
            print(f"   {report['orders']} orders in {report['regions']} regions, revenue {report['revenue']:.2f}, "
                  f"top region {report['top_region']}")
            for region, revenue in report["by_region"].items():
                print(f"     {region:<6} {revenue:>8.2f}")

            summary = run_large_data_pipeline(str(workdir / "data"), queue)
            print("\n2. large data, Parquet paths passed through the queue: extract -> transform (Spark) -> load")
            print(f"   {summary['events']:,} events aggregated into {summary['groups']} (region, day) groups")
            print(f"   written to {summary['path']}")
            for region, cents in summary["by_region"].items():
                print(f"     {region:<6} {cents / 100:>12,.2f}")
            print(f"\nqueue: {queue.stats()}")
        return 0
    finally:
        stop_spark()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
