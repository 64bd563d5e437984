"""Streaming tasks: a generator's items go to a file as they come, and the task's result is the path.

A task that yields millions of rows cannot return them as one pickled list: the worker would hold
them all, and the database would store them. `@generator_task` writes each item to a file while the
generator runs, in constant memory, and the job's result is the file's path; a downstream task reads
it back lazily with `StreamReader(context.upstream("extract"))`.

Formats: "jsonl" (one JSON value a line) and "pickle" (one pickle record after another) are written
and read by Python item by item. "parquet" and "csv" go through DuckDB, which writes and reads them
in bounded memory and far faster than a Python writer: the items are staged as JSON lines in a
temporary file next to the target, and one `COPY` turns them into the target file. Reading them is a
DuckDB query fetched in batches. CSV values come back as strings, as a CSV file holds them
(`StreamReader(path, typed=True)` lets DuckDB infer numbers and dates).

Files are written to a temporary name and renamed into place when complete, so a reader never sees
half a file. Output of `@generator_task` goes to the system temp directory unless `directory=`
says otherwise; nothing deletes it (the path is the job's result, read by later tasks).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import functools
import inspect
import json
import logging
import os
import pickle
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, AsyncIterable, Callable, Iterable, Iterator

import duckdb

log = logging.getLogger("queuack.streaming")

FORMATS = ("jsonl", "pickle", "csv", "parquet")
_SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".pkl": "pickle", ".pickle": "pickle",
             ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_BATCH = 2048  # rows fetched from DuckDB at a time


def _format_of(path: Path, format: str | None) -> str:
    if format is None:
        format = _SUFFIXES.get(path.suffix.lower())
        if format is None:
            raise ValueError(f"cannot tell the format of {path} from its extension {path.suffix!r}: "
                             f"pass format= (one of {', '.join(FORMATS)})")
    if format not in FORMATS:
        raise ValueError(f"unknown stream format {format!r}: choose one of {', '.join(FORMATS)}")
    return format


def _staging_default(value: Any) -> Any:
    """JSON for values DuckDB reads back as typed columns (dates as ISO text, decimals as numbers)."""
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} values cannot be written to a table file: {value!r}")


def _duckdb() -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB for one conversion or one read: one thread and a small memory
    limit keep its footprint flat (it spills to disk rather than grow)."""
    conn = duckdb.connect()
    conn.execute("SET threads = 1; SET memory_limit = '64MB'; SET preserve_insertion_order = true")
    return conn


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Sink:
    """Receives items one at a time; `close()` completes the file and returns the count."""

    def __init__(self, path: Path, format: str):
        self.path, self.format, self.count = path, format, 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
        table = format in ("csv", "parquet")
        # table formats are staged as JSON lines, then converted by DuckDB
        self._file = open(self._partial.with_suffix(".jsonl") if table else self._partial,
                          "wb" if format == "pickle" else "w", encoding=None if format == "pickle" else "utf-8")

    def add(self, item: Any) -> None:
        if self.format == "pickle":
            pickle.dump(item, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        elif self.format == "jsonl":
            self._file.write(json.dumps(item))
            self._file.write("\n")
        else:
            if not isinstance(item, dict):
                raise TypeError(f"{self.format.upper()} format requires dict items (one per row), "
                                f"not {type(item).__name__}: {item!r}")
            self._file.write(json.dumps(item, default=_staging_default))
            self._file.write("\n")
        self.count += 1

    def close(self) -> int:
        self._file.close()
        if self.format in ("csv", "parquet"):
            staged = self._file.name
            try:
                self._convert(staged)
            finally:
                os.unlink(staged)
        os.replace(self._partial, self.path)
        return self.count

    def _convert(self, staged: str) -> None:
        target = _sql_string(str(self._partial))
        options = "FORMAT parquet" if self.format == "parquet" else "FORMAT csv, HEADER true"
        with _duckdb() as conn:
            if self.count == 0:  # nothing to infer a schema from: an empty file of the format
                if self.format == "csv":
                    Path(self._partial).write_text("")
                    return
                conn.execute(f"COPY (SELECT NULL AS value WHERE false) TO {target} ({options})")
                return
            # sample every row for the schema, so that a column whose type changes late still fits
            source = f"read_json({_sql_string(staged)}, format = 'newline_delimited', sample_size = -1)"
            conn.execute(f"COPY (SELECT * FROM {source}) TO {target} ({options})")

    def abort(self) -> None:
        self._file.close()
        for leftover in (self._file.name, self._partial):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass


class StreamWriter:
    """Write items to a file in constant memory: `StreamWriter("out.parquet").write(items)`.

    format: "jsonl", "pickle", "csv" or "parquet"; None takes it from the file's extension.
    csv and parquet need dict items (one per row).
    """

    def __init__(self, path: str | os.PathLike, format: str | None = None):
        self.path = Path(path)
        self.format = _format_of(self.path, format)

    def __repr__(self) -> str:
        return f"StreamWriter({str(self.path)!r}, format={self.format!r})"

    def _sink(self) -> _Sink:
        return _Sink(self.path, self.format)

    def write(self, items: Iterable[Any]) -> int:
        """Write every item; returns how many. The file appears only once all are written."""
        sink = self._sink()
        try:
            for item in items:
                sink.add(item)
        except BaseException:
            sink.abort()
            raise
        return sink.close()

    async def write_async(self, items: AsyncIterable[Any]) -> int:
        """The same for an async iterable (an async generator)."""
        sink = self._sink()
        try:
            async for item in items:
                sink.add(item)
        except BaseException:
            sink.abort()
            raise
        return sink.close()


class StreamReader:
    """Iterate over a file written by StreamWriter (or any such file), one item at a time.

    Each `for` loop starts again from the beginning; nothing is read before the loop starts.
    typed=True (csv only): let DuckDB infer column types instead of returning strings.
    """

    def __init__(self, path: str | os.PathLike, format: str | None = None, *, typed: bool = False):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no stream file at {self.path} (was it written on another machine, "
                                    "or deleted after the task that wrote it ran?)")
        self.format = _format_of(self.path, format)
        self.typed = typed

    def __repr__(self) -> str:
        return f"StreamReader({str(self.path)!r}, format={self.format!r})"

    def __iter__(self) -> Iterator[Any]:
        if self.format == "jsonl":
            return self._jsonl()
        if self.format == "pickle":
            return self._pickle()
        return self._table()

    def _jsonl(self) -> Iterator[Any]:
        with open(self.path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as exc:  # its own "line 1" would point at the wrong line
                    raise ValueError(f"Invalid JSON on line {number} of {self.path}: {exc.msg} "
                                     f"(column {exc.colno}): {line.strip()[:80]!r}") from exc
                yield item

    def _pickle(self) -> Iterator[Any]:
        with open(self.path, "rb") as fh:
            while True:
                try:
                    yield pickle.load(fh)
                except EOFError:
                    return
                except (pickle.UnpicklingError, ValueError, TypeError, AttributeError, ImportError) as exc:
                    raise ValueError(f"Corrupted pickle file {self.path}: {exc}") from exc

    def _table(self) -> Iterator[dict]:
        if self.format == "csv" and self.path.stat().st_size == 0:
            return
        path = _sql_string(str(self.path))
        if self.format == "parquet":
            source = f"read_parquet({path})"
        else:
            source = f"read_csv({path}, header = true{'' if self.typed else ', all_varchar = true'})"
        with _duckdb() as conn:
            result = conn.execute(f"SELECT * FROM {source}")
            columns = [d[0] for d in result.description]
            while batch := result.fetchmany(_BATCH):
                for row in batch:
                    yield dict(zip(columns, row))


def _output_path(func: Callable, format: str, directory: str | os.PathLike | None) -> Path:
    folder = Path(directory) if directory is not None else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"queuack-{func.__name__}-{uuid.uuid4().hex}.{format}"


def generator_task(format: str = "jsonl", *, directory: str | os.PathLike | None = None):
    """Turn a generator function into a task whose result is the path of a file holding its items.

    @generator_task(format="parquet")
    def extract():
        for row in source():
            yield {"id": row.id, "value": row.value}

    A function that returns something other than a generator returns it unchanged.
    """
    _format_of(Path("x"), format)

    def decorator(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            result = func(*args, **kwargs)
            if not inspect.isgenerator(result):
                return result
            path = _output_path(func, format, directory)
            count = StreamWriter(path, format).write(result)
            log.info("%s wrote %d items to %s", func.__name__, count, path)
            return str(path)

        wrapper.stream_format = format  # marks a streaming task (Mermaid colours it as one)
        return wrapper

    return decorator


def async_generator_task(format: str = "jsonl", *, directory: str | os.PathLike | None = None):
    """generator_task for `async def` generators: items are written as they arrive."""
    _format_of(Path("x"), format)

    def decorator(func: Callable) -> Callable:
        @functools.wraps(func)
        async def wrapper(*args, **kwargs):
            result = func(*args, **kwargs)
            if not inspect.isasyncgen(result):
                return await result if inspect.isawaitable(result) else result
            path = _output_path(func, format, directory)
            count = await StreamWriter(path, format).write_async(result)
            log.info("%s wrote %d items to %s", func.__name__, count, path)
            return str(path)

        wrapper.stream_format = format
        return wrapper

    return decorator


def streaming_task(func: Callable) -> Callable:
    """queuack 0.1's marker for a task that reads and writes files and returns their path(s)
    instead of the data: it runs the function unchanged, logs its duration, and warns when the
    result is not a path or a list of paths (a large value stored as a result bloats the queue)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        result = func(*args, **kwargs)
        paths = result if isinstance(result, (list, tuple)) else [result]
        if result is not None and not all(isinstance(p, (str, os.PathLike)) for p in paths):
            warnings.warn(f"streaming task {func.__name__} returned {type(result).__name__}, not file path(s): "
                          "return the path of a file holding the data", UserWarning, stacklevel=2)
        log.info("%s finished in %.2fs", func.__name__, time.perf_counter() - started)
        return result

    wrapper.stream_format = "files"
    return wrapper
