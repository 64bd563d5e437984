"""Owner-only files: a queue database holds pickled arguments and results, readable by no one else.

DuckDB creates its files with mode 0666 minus the process umask, and has no setting for it. So:
- A new database file is created by DuckDB inside a private (0700) directory beside the target,
  made 0600 there, and then linked into place: no other user can open it at any moment.
- DuckDB creates its write-ahead log (`<db>.wal`) on the first write after a checkpoint and
  deletes it at the next one, but appends to a log that exists. So the store creates it itself,
  empty and 0600, right after opening the database and after each checkpoint (prepare_wal); the
  umask is never touched (it is the whole process's). As a safety net the store also narrows a
  log it finds wider after a write (restrict).
- The enqueue journal is created by queuack with O_EXCL and mode 0600 (see journal.py), and so
  are the files of large values (see values.py): write_new().
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile

import duckdb

from .errors import QueuackError

OWNER_ONLY = 0o600


def create_database(path: str) -> None:
    """Create an empty DuckDB file at path with mode 0600, unless something is there already."""
    directory = os.path.dirname(os.path.abspath(path))
    private = tempfile.mkdtemp(prefix=".queuack-new-", dir=directory)  # mode 0700
    try:
        staged = os.path.join(private, "new.duckdb")
        duckdb.connect(staged).close()
        os.chmod(staged, OWNER_ONLY)
        try:
            os.link(staged, path)  # never replaces: a file that appeared meanwhile is left alone
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not os.path.exists(path):
                os.rename(staged, path)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def check_wal(db_path: str) -> None:
    """Refuse a write-ahead log that is a link or another user's file, before DuckDB opens it:
    DuckDB would replay it into the database and write the queue's data into it."""
    wal = db_path + ".wal"
    try:
        info = os.lstat(wal)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
        raise QueuackError(
            f"{wal} is a link or belongs to another user, so it cannot be this queue's write-ahead log "
            "(DuckDB would write the queue's data into it). Remove it and open the queue again; "
            "nothing was changed."
        )


def prepare_wal(db_path: str) -> None:
    """Create DuckDB's write-ahead log, empty and owner-only, before DuckDB writes one."""
    wal = db_path + ".wal"
    try:
        fd = os.open(wal, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, OWNER_ONLY)
    except FileExistsError:
        check_wal(db_path)
        restrict(wal)
        return
    os.fchmod(fd, OWNER_ONLY)  # whatever the umask
    os.close(fd)


def remove_empty_wal(db_path: str) -> None:
    """After the database is closed: a log prepared but never written to is not left behind."""
    wal = db_path + ".wal"
    try:
        info = os.lstat(wal)
        if stat.S_ISREG(info.st_mode) and info.st_size == 0:
            os.unlink(wal)
    except FileNotFoundError:
        pass


def restrict(path: str) -> None:
    """Make an existing regular file of ours owner-only (a link or another user's file is left alone)."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != OWNER_ONLY:
        os.chmod(path, OWNER_ONLY)


def write_new(path: str, data: bytes) -> None:
    """Write data to a new owner-only file at path and sync it. Never over an existing file
    (FileExistsError) and never through a symbolic link."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, OWNER_ONLY)
    try:
        os.fchmod(fd, OWNER_ONLY)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_directory(path: str) -> None:
    """Make the entries of the directory that holds path (a new file, a rename) survive a crash."""
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_own(path: str, role: str) -> bytes:
    """The bytes of a file queuack keeps beside a database (b"" when there is none), read without
    following a symbolic link. `role` says what the file is for, in the errors: "the enqueue
    journal". A link or anything but a regular file at the path is refused and left untouched."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return b""
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise QueuackError(
                f"{path} is a symbolic link. queuack keeps {role} there and does not follow links for "
                "it (that could overwrite another file). Remove the link (the file it points to is "
                "untouched) and open the queue again."
            ) from None
        raise QueuackError(f"cannot read {role} {path}: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise QueuackError(
                f"{path} is not a regular file, so it cannot be {role}. Move it away and open the queue again."
            )
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read()
    finally:
        os.close(fd)
