from queuack import DAG, DuckQueue


def load_rows():
    return ["a", "b"]


def count_rows(parent_id, queue_path):
    q = DuckQueue(queue_path)
    rows = q.get_result(parent_id)
    q.close()
    return len(rows)


def build(path):
    with DAG("count", queue=DuckQueue(path)) as dag:
        first = dag.add_job(load_rows, name="load")
        dag.add_job(count_rows, name="count", args=(first, path), depends_on="load")
    return dag
