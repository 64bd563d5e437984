"""Streaming tasks (queuack 0.1's generator_task / StreamReader / StreamWriter): a generator's items
go to a file in constant memory, the job's result is the path, and a reader gives them back lazily."""

from __future__ import annotations

import os

import pytest

from queuack import (
    DAG,
    StreamReader,
    StreamWriter,
    TaskContext,
    async_generator_task,
    generator_task,
)

ROWS = [{"id": i, "name": f"user_{i}", "value": i * 2.5} for i in range(5)]


@pytest.mark.parametrize("fmt", ["jsonl", "pickle", "parquet"])
def test_each_format_round_trips_its_items(tmp_path, fmt):
    path = tmp_path / f"rows.{fmt}"
    assert StreamWriter(path).write(iter(ROWS)) == 5  # format from the extension
    reader = StreamReader(path)
    assert list(reader) == ROWS
    assert list(reader) == ROWS  # every loop starts again


def test_csv_has_a_header_and_reads_back_as_strings_or_typed(tmp_path):
    path = tmp_path / "rows.csv"
    StreamWriter(path, format="csv").write(ROWS)
    lines = path.read_text().splitlines()
    assert lines[0] == "id,name,value" and len(lines) == 6
    assert list(StreamReader(path))[1] == {"id": "1", "name": "user_1", "value": "2.5"}
    assert list(StreamReader(path, typed=True))[1] == {"id": 1, "name": "user_1", "value": 2.5}


def test_pickle_keeps_python_objects(tmp_path):
    items = [{1, 2}, ("a", b"b"), None]
    StreamWriter(tmp_path / "x.bin", format="pickle").write(items)
    assert list(StreamReader(tmp_path / "x.bin", format="pickle")) == items


def test_bad_items_and_formats_say_what_is_wrong(tmp_path):
    with pytest.raises(TypeError, match="CSV format requires dict items"):
        StreamWriter(tmp_path / "x.csv").write([[1, 2, 3]])
    with pytest.raises(TypeError):
        StreamWriter(tmp_path / "x.jsonl").write([{"f": object()}])
    assert sorted(os.listdir(tmp_path)) == []  # no partial file left behind
    with pytest.raises(ValueError, match="pass format="):
        StreamWriter(tmp_path / "x.dat")
    with pytest.raises(ValueError, match="unknown stream format 'xml'"):
        generator_task(format="xml")
    with pytest.raises(FileNotFoundError, match="no stream file"):
        StreamReader(tmp_path / "missing.jsonl")


@generator_task(format="parquet")
def extract():
    for i in range(100):
        yield {"id": i, "value": i * 2}


@generator_task(format="jsonl")
def transform(context: TaskContext):
    for row in StreamReader(context.upstream("extract")):
        yield {"id": row["id"], "value": row["value"] * 10}


def total(context):
    return sum(row["value"] for row in StreamReader(context.upstream("transform")))


def test_generator_tasks_chain_through_files_in_a_dag():
    with DAG("stream") as dag:
        dag.add_node(extract, name="extract")
        dag.add_node(transform, name="transform", depends_on="extract")
        dag.add_node(total, name="total", depends_on="transform")
    assert dag.execute(timeout=60)
    assert dag.get_result("total") == sum(i * 20 for i in range(100))
    path = dag.get_result("extract")
    assert path.endswith(".parquet") and os.path.exists(path)


def test_a_generator_task_that_raises_leaves_no_file(tmp_path):
    @generator_task(directory=tmp_path)
    def broken():
        yield {"id": 1}
        raise ValueError("intentional")

    with pytest.raises(ValueError, match="intentional"):
        broken()
    assert os.listdir(tmp_path) == []


def test_async_generator_task_writes_items_as_they_arrive(tmp_path):
    import asyncio

    @async_generator_task(format="csv", directory=tmp_path)
    async def produce(n):
        for i in range(n):
            await asyncio.sleep(0)
            yield {"n": i}

    path = asyncio.run(produce(3))
    assert list(StreamReader(path, typed=True)) == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_streaming_task_passes_paths_through_and_warns_about_data(tmp_path):
    from queuack import streaming_task

    @streaming_task
    def writes(context=None):
        path = tmp_path / "out.jsonl"
        StreamWriter(path).write([{"a": 1}])
        return str(path)

    @streaming_task
    def returns_data():
        return [{"a": 1}]

    assert writes().endswith("out.jsonl")
    with pytest.warns(UserWarning, match="not file path"):
        returns_data()


def test_a_bad_jsonl_line_is_reported_by_its_line_in_the_file(tmp_path):
    from queuack import StreamReader

    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": 1}\n\nnot valid json\n{"id": 3}\n')
    items = iter(StreamReader(path))
    assert next(items) == {"id": 1}
    with pytest.raises(ValueError, match=r"Invalid JSON on line 3 of .*bad\.jsonl.*'not valid json'"):
        next(items)
