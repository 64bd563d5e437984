"""The enqueue journal: a lone enqueue made durable without a DuckDB statement; and the outcome
journal (same format, `<db>.queuack-outcomes`): a lone ack made durable the same way.

One DuckDB statement costs about a millisecond whatever it does, so a lone enqueue would be capped
near 500/s. Instead its row is appended to `<db>.queuack-journal` and synced (a fraction of a
millisecond); the store moves journalled rows into DuckDB in one multi-row INSERT before any other
statement and then empties the journal. After a crash the records are replayed at open.

Decisions:
- The format is plain data, never pickle: whoever can write the journal must not be able to run
  code by it. A file starts with HEADER and a JSON list of the column names; each record is MAGIC,
  the body's length, a CRC32 of the length and the body, then the body: one typed value per column
  (a tag byte: none, 64-bit int, 64-bit float, or UTF-8 text / bytes with their length). Binary
  rather than JSON because it costs a few microseconds a record, where JSON with base64 cost a
  noticeable share of a lone enqueue.
- Reading keeps every intact record. Bytes that cannot be read (a flipped bit, a record from
  another version) are skipped up to the next record that checks out, and the journal as it was
  found is copied beside it (`.damaged-<time>`) with a loud warning naming that copy: never
  deleted silently. A record cut short at the very end is what a crash mid-enqueue leaves (that
  enqueue never returned); it is ignored without a fuss.
- The journal is ours alone: it is opened without following symbolic links, created with O_EXCL
  and mode 0600, and never truncated or removed unless it starts with our HEADER (or is empty). A
  link or a foreign file at its path is a clear error and stays untouched.
- A job's `ack()` one at a time would likewise cost one committed UPDATE each. Its outcome is a
  record of the outcome journal instead (a file of its own, so that the enqueue journal's format
  and its readers stay as they were); the store applies the records in one UPDATE before any other
  statement, and at open before crash recovery, so an acked job is never run again nor charged.
- It exists only while it may hold something: created with the first lone enqueue, removed by a
  clean close (and after a replay at open) when it holds no record.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import struct
import time
import warnings
import zlib
from typing import Sequence

from .errors import JournalDamagedWarning, QueuackError, StorageWriteError
from . import files
from .files import sync_directory, write_new

log = logging.getLogger("queuack")

SUFFIX = ".queuack-journal"
HEADER = b"queuack-journal 2\n"
MAGIC = b"QJR\x02"
_FRAME = struct.Struct("<4sII")  # magic, body length, crc32 of (length, body)
_LENGTH = struct.Struct("<I")
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # creating the journal fails as a full disk


_NONE, _INT, _FLOAT, _TEXT, _BYTES = range(5)
_TAGGED_INT = struct.Struct("<Bq")
_TAGGED_FLOAT = struct.Struct("<Bd")
_TAGGED_SIZE = struct.Struct("<BI")


def encode_record(row: Sequence) -> bytes:
    """A row of None, int, float, str and bytes values as one record body."""
    parts = []
    for value in row:
        if value is None:
            parts.append(b"\x00")
        elif isinstance(value, bytes):
            parts += (_TAGGED_SIZE.pack(_BYTES, len(value)), value)
        elif isinstance(value, str):
            text = value.encode()
            parts += (_TAGGED_SIZE.pack(_TEXT, len(text)), text)
        elif isinstance(value, float):
            parts.append(_TAGGED_FLOAT.pack(_FLOAT, value))
        elif isinstance(value, int):
            parts.append(_TAGGED_INT.pack(_INT, value))
        else:
            raise TypeError(f"a journal record holds None, int, float, str or bytes, not {type(value).__name__}")
    return b"".join(parts)


def decode_record(body: bytes, width: int) -> tuple:
    """The `width` values of a record body. ValueError if it is not exactly that."""
    values = []
    pos = 0
    try:
        for _ in range(width):
            tag = body[pos]
            if tag == _NONE:
                values.append(None)
                pos += 1
            elif tag == _INT:
                values.append(_TAGGED_INT.unpack_from(body, pos)[1])
                pos += _TAGGED_INT.size
            elif tag == _FLOAT:
                values.append(_TAGGED_FLOAT.unpack_from(body, pos)[1])
                pos += _TAGGED_FLOAT.size
            elif tag in (_TEXT, _BYTES):
                size = _TAGGED_SIZE.unpack_from(body, pos)[1]
                start = pos + _TAGGED_SIZE.size
                raw = body[start:start + size]
                if len(raw) != size:
                    raise ValueError("a value runs past the end of the record")
                values.append(raw.decode() if tag == _TEXT else bytes(raw))
                pos = start + size
            else:
                raise ValueError(f"unknown value tag {tag}")
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise ValueError(f"not a journal record: {exc}") from None
    if pos != len(body):
        raise ValueError("bytes left over after the last value")
    return tuple(values)


def _header(columns: Sequence[str]) -> bytes:
    return HEADER + json.dumps(list(columns)).encode() + b"\n"


def _frame(body: bytes) -> bytes:
    length = _LENGTH.pack(len(body))
    return _FRAME.pack(MAGIC, len(body), zlib.crc32(body, zlib.crc32(length))) + body


def _frame_at(data: bytes, pos: int) -> bytes | None:
    """The body of an intact record starting at pos, or None."""
    if data[pos:pos + 4] != MAGIC or pos + _FRAME.size > len(data):
        return None
    _, size, crc = _FRAME.unpack_from(data, pos)
    start = pos + _FRAME.size
    body = data[start:start + size]
    if len(body) < size or zlib.crc32(body, zlib.crc32(_LENGTH.pack(size))) != crc:
        return None
    return body


def _is_torn(data: bytes, pos: int) -> bool:
    """Is data[pos:] the start of one record, cut short (what a crash during a write leaves)?"""
    tail = data[pos:]
    if len(tail) < len(MAGIC):
        return MAGIC.startswith(tail)
    if not tail.startswith(MAGIC):
        return False
    return len(tail) < _FRAME.size or _FRAME.size + _FRAME.unpack_from(tail)[1] > len(tail)


def scan(data: bytes, columns: Sequence[str]) -> tuple[list[tuple], list[tuple[int, int]]]:
    """(intact rows in `columns` order, damaged byte ranges) of a journal's contents."""
    end_of_header = data.find(b"\n", len(HEADER)) + 1
    try:
        written = json.loads(data[len(HEADER):end_of_header])
        order = [written.index(c) for c in columns]
    except (ValueError, AttributeError):  # a damaged header, or columns this version does not have
        return [], [(len(HEADER), len(data))]
    rows: list[tuple] = []
    damaged: list[tuple[int, int]] = []
    pos = end_of_header
    while pos < len(data):
        body = _frame_at(data, pos)
        if body is not None:
            try:
                values = decode_record(body, len(written))
                rows.append(tuple(values[i] for i in order))
                pos += _FRAME.size + len(body)
                continue
            except ValueError:
                pass
        # unreadable from here: resume at the next record that checks out
        resume = data.find(MAGIC, pos + 1)
        while resume != -1 and _frame_at(data, resume) is None:
            resume = data.find(MAGIC, resume + 1)
        if resume == -1:
            if not _is_torn(data, pos):
                damaged.append((pos, len(data)))
            break
        damaged.append((pos, resume))
        pos = resume
    return rows, damaged


class Journal:
    """The journal file of one database. Not thread-safe: the store calls it under its lock."""

    def __init__(self, db_path: str, suffix: str = SUFFIX, kind: str = "enqueue"):
        self.path = db_path + suffix
        self.kind = kind  # "enqueue" or "outcome": how errors and warnings name it
        self.label = f"the {kind} journal"
        self._fd: int | None = None
        self._header_size = 0
        self._records = 0  # records written since the journal was last emptied

    # -- at open ---------------------------------------------------------------------------------
    def read(self, columns: Sequence[str], set_aside: bool = True) -> list[tuple]:
        """The rows of a journal left by a previous process (none if there is no journal).

        Damaged bytes are reported, and with set_aside=True the journal as found is copied beside
        it first. Raises QueuackError for a link or a file that is not a queuack journal.
        """
        data = self._read_ours()
        if not data:
            return []
        rows, damaged = scan(data, columns)
        if damaged:
            self._report(data, damaged, set_aside)
        return rows

    def _read_ours(self) -> bytes:
        data = files.read_own(self.path, self.label)
        if data and not data.startswith(HEADER):
            raise QueuackError(
                f"{self.path} is not an {self.kind} journal of this queuack version (it does not start with "
                f"{HEADER!r}; queuack before 0.2 wrote pickle records, which this version does not load "
                "because loading them can run code). queuack does not overwrite a file it did not "
                "create: move it away and open the queue again. Jobs in an old journal were enqueued "
                "one by one just before that process crashed; enqueue them again if they are missing."
            )
        return data

    def _report(self, data: bytes, damaged: list[tuple[int, int]], set_aside: bool) -> None:
        ranges = ", ".join(f"{a}-{b}" for a, b in damaged)
        lost = sum(b - a for a, b in damaged)
        message = f"{self.label} {self.path} has {lost} unreadable byte(s) (at {ranges})"
        if set_aside:
            copy = f"{self.path}.damaged-{time.strftime('%Y%m%dT%H%M%S')}"
            copy = _write_new(copy, data)
            message += (f": every intact record was kept; the journal as found is saved in {copy}. "
                        "Jobs enqueued (or acked) one by one just before the damage may be missing "
                        "(or run again): check them")
        else:
            message += ": intact records are counted; the next process that opens the file for "
            message += "writing keeps them and sets the journal aside"
        log.error(message)
        warnings.warn(message, JournalDamagedWarning, stacklevel=4)

    def discard(self) -> None:
        """Remove the journal found at open, once its rows are stored (it was checked to be ours)."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    # -- while open --------------------------------------------------------------------------------
    def append(self, columns: Sequence[str], row: Sequence) -> None:
        """Write one record and sync it: durable when this returns."""
        self.append_rows(columns, [row])

    def append_rows(self, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
        """Write records in one write and one sync: all durable when this returns."""
        record = b"".join(_frame(encode_record(row)) for row in rows)
        if self._fd is None:
            self._create(_header(columns))
        fd = self._fd
        end = os.lseek(fd, 0, os.SEEK_END)
        try:
            os.write(fd, record)
            os.fdatasync(fd)
        except OSError as exc:  # disk full, I/O error: leave no torn record behind
            os.ftruncate(fd, end)
            raise StorageWriteError(self.path, str(exc)) from exc
        self._records += len(rows)

    def _create(self, header: bytes) -> None:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            raise QueuackError(
                f"{self.path} appeared while the queue was open; queuack does not overwrite a file it "
                "did not create. Move it away."
            ) from None
        except OSError as exc:
            if exc.errno in _NO_SPACE:
                raise StorageWriteError(self.path, str(exc)) from exc
            raise QueuackError(f"cannot create {self.label} {self.path}: {exc.strerror}") from None
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            os.write(fd, header)
            os.fsync(fd)
            sync_directory(self.path)  # the file itself must survive a crash, not only its bytes
        except BaseException as exc:
            os.close(fd)
            os.unlink(self.path)
            if isinstance(exc, OSError):  # disk full, I/O error: the enqueue stored nothing
                raise StorageWriteError(self.path, str(exc)) from exc
            raise
        self._fd = fd
        self._header_size = len(header)

    def clear(self) -> None:
        """Its records are stored in DuckDB: empty it."""
        if self._records:
            os.ftruncate(self._fd, self._header_size)
            self._records = 0

    def close(self) -> None:
        """Close it, removing it when it holds no record (a clean close)."""
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        if not self._records:
            self.discard()


def _write_new(path: str, data: bytes) -> str:
    """Write data to a new file (0600, never over an existing one); returns the name used."""
    base, n = path, 1
    while True:
        try:
            write_new(path, data)
            break
        except FileExistsError:
            n += 1
            path = f"{base}.{n}"
    sync_directory(path)
    return path
