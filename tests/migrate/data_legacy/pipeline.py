"""Builds and runs the ETL pipeline."""

from queuack import DAG, DuckQueue

from tasks import extract, transform


def build(path):
    q = DuckQueue(path)
    with DAG("etl", queue=q) as dag:
        e = dag.add_job(extract, name="extract")
        dag.add_job(transform, name="transform", args=(e, path), depends_on="extract")
    return dag
