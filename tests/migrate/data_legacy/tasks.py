"""Tasks of a small ETL pipeline, written for queuack 0.1: parents are read by hand."""

from queuack import DuckQueue


def extract():
    return [1, 2, 3]


def transform(parent_id, queue_path):
    q = DuckQueue(queue_path)
    data = q.get_result(parent_id)
    q.close()
    return [x * 2 for x in data]
