"""The files beside a queue: the enqueue journal, and who may read the database."""

from __future__ import annotations

import os
import pickle
import signal
import stat
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from queuack import DuckQueue, QueuackError, Worker
from queuack.errors import JournalDamagedWarning
from queuack.journal import HEADER, MAGIC, scan

from . import jobfuncs
from .conftest import python_process, subprocess_env


def journal_of(db: str) -> Path:
    return Path(db + ".queuack-journal")


def crash_after_lone_enqueues(db: str, count: int) -> list[str]:
    """A child process enqueues `count` jobs one by one (journalled only) and is killed."""
    script = f"""
import os, signal
from queuack import DuckQueue
from runtime import jobfuncs
q = DuckQueue({db!r})
print(" ".join(q.enqueue(jobfuncs.echo, args=(n,)) for n in range({count})), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    process = python_process(script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, err
    assert journal_of(db).stat().st_size > 0
    return out.split()


def record_offsets(data: bytes) -> list[int]:
    return [i for i in range(len(data)) if data.startswith(MAGIC, i)]


def damage(db: str, record: int, at: int, replacement: bytes) -> bytes:
    """Overwrite bytes of the journal's nth record; returns the damaged journal."""
    journal = journal_of(db)
    data = bytearray(journal.read_bytes())
    start = record_offsets(bytes(data))[record] + at
    data[start:start + len(replacement)] = replacement
    journal.write_bytes(bytes(data))
    return bytes(data)


def test_a_flipped_byte_loses_only_its_record_and_the_journal_is_set_aside(tmp_path):
    db = str(tmp_path / "queue.duckdb")
    ids = crash_after_lone_enqueues(db, 10)
    data = damage(db, 2, 20, b"!")  # inside the third record's body

    with pytest.warns(JournalDamagedWarning, match="unreadable") as caught:
        q = DuckQueue(db)
    with q:
        assert q.stats()["pending"] == 9  # every intact record, also those after the damage
        Worker(q).run(burst=True)
        assert [q.get_result(i) for i in ids[:2] + ids[3:]] == [0, 1] + list(range(3, 10))
    copies = list(tmp_path.glob("queue.duckdb.queuack-journal.damaged-*"))
    assert len(copies) == 1 and copies[0].read_bytes() == data  # kept as found
    assert str(copies[0]) in str(caught[0].message)
    assert stat.S_IMODE(copies[0].stat().st_mode) == 0o600
    assert not journal_of(db).exists()  # replayed, then removed


def test_a_damaged_length_field_keeps_the_records_after_it(tmp_path):
    db = str(tmp_path / "queue.duckdb")
    ids = crash_after_lone_enqueues(db, 5)
    damage(db, 1, 4, b"\xff\xff\xff\x7f")  # the second record's length now claims 2 GiB
    with pytest.warns(JournalDamagedWarning):
        q = DuckQueue(db)
    with q:
        assert q.stats()["pending"] == 4
        assert [q.get_job(j).id for j in ids[:1] + ids[2:]] == ids[:1] + ids[2:]


def test_a_torn_last_record_is_ignored_quietly(tmp_path, recwarn):
    db = str(tmp_path / "queue.duckdb")
    ids = crash_after_lone_enqueues(db, 3)
    journal = journal_of(db)
    data = journal.read_bytes()
    last = record_offsets(data)[-1]
    journal.write_bytes(data + data[last:last + 15])  # a crash in the middle of writing a fourth record
    with DuckQueue(db) as q:
        assert q.stats()["pending"] == 3 and q.get_job(ids[2])
    assert not [w for w in recwarn if issubclass(w.category, JournalDamagedWarning)]
    assert not list(tmp_path.glob("*.damaged-*"))


def test_journal_records_are_never_unpickled(tmp_path):
    """A journal in the old pickle format would run code when read: it is refused, untouched."""
    db = str(tmp_path / "queue.duckdb")
    DuckQueue(db).close()
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    body = pickle.dumps(Evil())
    journal = journal_of(db)
    journal.write_bytes(struct.pack("<II", len(body), zlib.crc32(body)) + body)
    before = journal.read_bytes()
    with pytest.raises(QueuackError, match="not an enqueue journal of this queuack version"):
        DuckQueue(db)
    assert not marker.exists()
    assert journal.read_bytes() == before


def test_a_symlink_at_the_journal_path_is_refused_and_its_target_untouched(tmp_path):
    db = str(tmp_path / "queue.duckdb")
    DuckQueue(db).close()
    target = tmp_path / "precious.txt"
    target.write_text("do not truncate me")
    journal_of(db).symlink_to(target)
    with pytest.raises(QueuackError, match="symbolic link"):
        DuckQueue(db)
    assert target.read_text() == "do not truncate me"

    # a link that appears while the queue is open is not followed either
    journal_of(db).unlink()
    with DuckQueue(db) as q:
        journal_of(db).symlink_to(target)
        with pytest.raises(QueuackError, match="did not create"):
            q.enqueue(jobfuncs.echo, args=(1,))
    assert target.read_text() == "do not truncate me"
    assert journal_of(db).is_symlink()


def test_a_foreign_file_at_the_journal_path_is_refused_untouched(tmp_path):
    db = str(tmp_path / "queue.duckdb")
    DuckQueue(db).close()
    journal_of(db).write_text("someone else's notes\n")
    with pytest.raises(QueuackError, match="does not overwrite a file it did not create"):
        DuckQueue(db)
    assert journal_of(db).read_text() == "someone else's notes\n"


def test_the_journal_exists_only_while_it_may_hold_something(tmp_path):
    db = str(tmp_path / "queue.duckdb")
    with DuckQueue(db) as q:
        assert not journal_of(db).exists()  # nothing enqueued yet
        job = q.enqueue(jobfuncs.echo, args=(1,))
        assert journal_of(db).exists()
    assert not journal_of(db).exists()  # a clean close removes it
    with DuckQueue(db) as q:
        assert q.get_job(job).status.value == "pending"

    journal_of(db).write_bytes(b"")  # the empty journal an older release left behind
    DuckQueue(db).close()
    assert not journal_of(db).exists()


FILES_SCRIPT = """
import os, stat, sys
os.umask(0)
from queuack import DuckQueue, files
from runtime import jobfuncs
files.restrict = lambda path: None  # no narrowing after the fact: every file must be born 0600
db = sys.argv[1]
q = DuckQueue(db)
q.enqueue(jobfuncs.echo, args=(1,))            # the journal
q.enqueue_batch([(jobfuncs.echo, (2,), None)])  # a DuckDB write: the WAL
q._live_store()._checkpoint()                  # DuckDB deletes its log here ...
q.enqueue_batch([(jobfuncs.echo, (3,), None)])  # ... and the next write needs a new one
for path in (db, db + ".wal", db + ".queuack-journal"):
    print(path, oct(stat.S_IMODE(os.stat(path).st_mode)))
q.close()
print(sorted(os.listdir(os.path.dirname(db))))
"""


def test_files_are_owner_only_whatever_the_umask(tmp_path):
    db = str(tmp_path / "queue.duckdb")
    out = subprocess.run([sys.executable, "-c", FILES_SCRIPT, db], env=subprocess_env(), capture_output=True,
                         text=True, timeout=60, check=True).stdout
    *modes, after_close = out.splitlines()
    assert dict(line.split() for line in modes) == {
        db: "0o600", db + ".wal": "0o600", db + ".queuack-journal": "0o600"}
    assert after_close == "['queue.duckdb']"  # a clean close leaves no log and no journal


def test_a_database_that_cannot_be_created_is_a_clear_error(tmp_path):
    with pytest.raises(QueuackError, match="cannot create the queue database .*No such file or directory"):
        DuckQueue(str(tmp_path / "no-such-dir" / "queue.duckdb"))
    with pytest.raises(QueuackError, match="read_only=True needs the path of an existing queue file"):
        DuckQueue(read_only=True)


@pytest.mark.parametrize("columns_line", [b'{"id": 1}\n', b"[\"id\", \"other\"\n", b'["other"]\n'])
def test_a_journal_whose_column_list_is_unreadable_is_all_set_aside(columns_line):
    data = HEADER + columns_line + b"records"
    assert scan(data, ["id"]) == ([], [(len(HEADER), len(data))])


def test_a_write_ahead_log_that_is_a_link_is_refused_before_duckdb_opens_it(tmp_path):
    db = str(tmp_path / "queue.duckdb")
    DuckQueue(db).close()
    target = tmp_path / "precious.txt"
    target.write_text("do not replay me")
    Path(db + ".wal").symlink_to(target)
    before = target.stat().st_mtime_ns
    with pytest.raises(QueuackError, match="is a link or belongs to another user"):
        DuckQueue(db)
    assert target.read_text() == "do not replay me" and target.stat().st_mtime_ns == before
    assert Path(db + ".wal").is_symlink()
