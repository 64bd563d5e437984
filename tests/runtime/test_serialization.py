"""How functions, arguments and results are stored: pickle by default, JSON on request."""

from __future__ import annotations

import datetime
import decimal
import fractions

import duckdb
import pytest

from queuack import DuckQueue, EnqueueError, JobNotDoneError, JobStatus, Worker

from . import jobfuncs


@pytest.fixture(params=["memory", "file"])
def json_queue(request, tmp_path):
    path = ":memory:" if request.param == "memory" else str(tmp_path / "json.duckdb")
    with DuckQueue(path, serializer="json", retry_backoff=0) as q:
        yield q


VALUES = [
    {"name": "x", "items": [1, 2.5, None, True], "nested": {"a": {"b": []}}},
    [1, "two", 3.0],
    "text with ünïcode",
    42,
    None,
]


@pytest.mark.parametrize("value", VALUES)
def test_json_arguments_and_results_round_trip(json_queue, value):
    job_id = json_queue.enqueue(jobfuncs.echo, args=(value,))
    assert Worker(json_queue).run(burst=True) == 1
    assert json_queue.get_result(job_id) == value


def test_json_keyword_arguments(json_queue):
    job_id = json_queue.enqueue(jobfuncs.keyword_only, args=([1, 2],), kwargs={"scale": 2})
    job = json_queue.claim()
    assert job.execute() == [1, 2, 1, 2]
    json_queue.ack(job, result=[1, 2])
    assert json_queue.get_result(job_id) == [1, 2]


@pytest.mark.parametrize(("args", "kwargs", "where", "why"), [
    (({1: "a"},), None, "args[0] has the key 1 (int)", "come back as '1'"),
    (({"a": [0, (1, 2)]},), None, 'args[0]["a"][1] is a tuple', "come back from JSON as a list"),
    ((), {"value": {"x"}}, 'kwargs["value"] is a set', "JSON has no sets"),
    (([1.0, float("nan")],), None, "args[0][1] is nan", "not a number in JSON"),
    (({"limit": float("inf")},), None, 'args[0]["limit"] is inf', "not a number in JSON"),
    (({None: 1},), None, "args[0] has the key None (NoneType)", "come back as 'null'"),
])
def test_json_refuses_what_would_not_come_back_the_same_and_says_where(json_queue, args, kwargs, where, why):
    with pytest.raises(EnqueueError) as caught:
        json_queue.enqueue(jobfuncs.echo, args=args, kwargs=kwargs)
    assert where in str(caught.value) and why in str(caught.value) and "json serializer" in str(caught.value)
    assert sum(json_queue.stats().values()) == 0


@pytest.mark.parametrize(("result", "where"), [
    ((1, 2), "result is a tuple"),
    ({"by_id": {7: "x"}}, 'result["by_id"] has the key 7 (int)'),
])
def test_json_a_result_that_would_change_fails_the_attempt(json_queue, result, where):
    json_queue.enqueue(jobfuncs.echo, args=("x",), max_attempts=1)
    job = json_queue.claim()
    json_queue.ack(job, result=result)
    record = json_queue.get_job(job.id)
    assert record.status is JobStatus.FAILED and where in record.error, record.error
    with pytest.raises(JobNotDoneError):
        json_queue.get_result(job.id)


def test_json_a_task_returning_a_tuple_fails_instead_of_storing_a_list(json_queue):
    job_id = json_queue.enqueue(jobfuncs.pair, args=(1, 2), max_attempts=1)
    Worker(json_queue).run(burst=True)
    record = json_queue.get_job(job_id)
    assert record.status is JobStatus.FAILED and "result is a tuple" in record.error


def test_json_stores_readable_json(tmp_path):
    path = str(tmp_path / "q.duckdb")
    with DuckQueue(path, serializer="json") as q:
        job_id = q.enqueue(jobfuncs.add, args=(1, 2), kwargs={})
        q.ack(q.claim(), result={"sum": 3})
    with duckdb.connect(path, read_only=True) as conn:
        func, args, result, codec = conn.execute(
            "SELECT func, args, result, codec FROM queuack.jobs WHERE id = ?", [job_id]).fetchone()
    assert codec == "json"
    assert func == b"runtime.jobfuncs:add"
    assert args == b"[1,2]" and result == b'{"sum":3}'


@pytest.mark.parametrize("value", [{1, 2}, b"bytes", datetime.date(2024, 1, 1), decimal.Decimal("1.5"), object()])
def test_json_refuses_a_non_json_argument_at_enqueue(json_queue, value):
    with pytest.raises(EnqueueError) as caught:
        json_queue.enqueue(jobfuncs.echo, args=(value,))
    assert "runtime.jobfuncs.echo" in str(caught.value) and "json" in str(caught.value)
    with pytest.raises(EnqueueError):
        json_queue.enqueue(jobfuncs.echo, kwargs={"value": value})
    with pytest.raises(EnqueueError):
        json_queue.enqueue_batch([(jobfuncs.echo, ("fine",)), (jobfuncs.echo, (value,))])
    assert sum(json_queue.stats().values()) == 0


def test_json_refuses_functions_without_an_importable_name(json_queue):
    def nested():
        return 1

    with pytest.raises(EnqueueError, match="<lambda>"):
        json_queue.enqueue(lambda: 1)
    with pytest.raises(EnqueueError, match="nested"):
        json_queue.enqueue(nested)
    json_queue.enqueue(jobfuncs.Tasks.static_add, args=(1, 2))  # a qualified name imports back
    job = json_queue.claim()
    assert job.execute() == 3


def test_json_a_result_that_is_not_json_fails_the_job_with_a_clear_error(json_queue):
    job_id = json_queue.enqueue(jobfuncs.unpicklable_result, max_attempts=1)
    Worker(json_queue).run(burst=True)
    record = json_queue.get_job(job_id)
    assert record.status == JobStatus.FAILED
    assert "json" in record.error and "result" in record.error


def test_pickle_round_trips_python_values(queue):
    value = {
        "when": datetime.datetime(2024, 5, 1, 12, 30),
        "amount": decimal.Decimal("10.25"),
        "ratio": fractions.Fraction(1, 3),
        "tags": {"a", "b"},
        "raw": b"\x00\xff",
        "pair": (1, 2),
    }
    job_id = queue.enqueue(jobfuncs.echo, args=(value,))
    Worker(queue).run(burst=True)
    assert queue.get_result(job_id) == value


def test_unknown_serializer_is_refused():
    with pytest.raises(ValueError, match="yaml"):
        DuckQueue(serializer="yaml")


def test_serialization_keyword_of_queuack_0_1_is_accepted():
    with DuckQueue(serialization="json") as q:
        assert q.serializer == "json"
    with DuckQueue(serialization="json_ref") as q:
        assert q.serializer == "json"
