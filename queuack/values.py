"""Large values (arguments and results over LARGE bytes) kept outside DuckDB, one file each.

Measured with DuckDB 2.0: a 100 MB BLOB parameter peaks near 600 MB of RSS to insert, and 1,000
results of 1 MB each stored by UPDATE peaked at 3.2 GB of RSS and left 2 GB in the file (every
checkpoint rewrites the row group's BLOB column, and the blocks it frees stay in the file). A value
written to a file of its own costs its size once on disk and is read back in one piece.

So an encoded value over LARGE bytes goes to `<database>.queuack-values/<name>` (a directory
beside the database, owner-only like the database; keep it with the file when you move or back it
up), and its column holds a short reference instead: REF_PREFIX + the file name. No pickle or JSON
value starts with a NUL byte, so a reference cannot be mistaken for a value. An in-memory queue
keeps large values in a dict instead, once, beside its in-memory database.

A file is written to a temporary name, synced and renamed before the transaction that refers to
it commits, so a stored reference always names a complete file. A crash in between leaves a file
that nothing refers to; the store removes those when it opens the database (see Store).
"""

from __future__ import annotations

import os
import re

from .files import sync_directory, write_new

LARGE = 256 * 1024
REF_PREFIX = b"\x00queuack-value:"
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_TEMP_SUFFIX = ".partial"


def is_ref(blob: bytes | None) -> bool:
    return blob is not None and blob[:len(REF_PREFIX)] == REF_PREFIX


def ref_name(blob: bytes) -> str:
    return blob[len(REF_PREFIX):].decode("ascii")


class ValueFiles:
    """Where the large values of one database live: a directory, or a dict for ":memory:"."""

    def __init__(self, db_path: str | None):
        self.directory = None if db_path is None else db_path + ".queuack-values"
        self._memory: dict[str, bytes] = {}

    def put(self, name: str, data: bytes) -> bytes:
        """Store `data` under `name` (a job id and a suffix) and return the reference to store instead.
        A value whose name is not a plain file name stays where it is."""
        if not _SAFE_NAME.fullmatch(name):
            return data
        if self.directory is None:
            self._memory[name] = data
            return REF_PREFIX + name.encode("ascii")
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        if os.path.islink(self.directory):
            raise OSError(f"{self.directory} is a symbolic link; large values are not written through links")
        temp = os.path.join(self.directory, name + _TEMP_SUFFIX)
        try:
            os.unlink(temp)  # left by a crash
        except FileNotFoundError:
            pass
        write_new(temp, data)
        final = os.path.join(self.directory, name)
        os.replace(temp, final)
        sync_directory(final)  # the rename itself survives a power cut
        return REF_PREFIX + name.encode("ascii")

    def get(self, blob: bytes | None) -> bytes | None:
        """The value a column holds: itself, or the contents of the file it refers to."""
        if not is_ref(blob):
            return blob
        name = ref_name(blob)
        if self.directory is None:
            return self._memory[name]
        try:
            fd = os.open(os.path.join(self.directory, name), os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"the value file {name} is missing from {self.directory}: the database was moved or "
                "restored without the directory beside it") from None
        with os.fdopen(fd, "rb") as fh:
            return fh.read()

    def names(self) -> list[str]:
        """Every stored value's name (finished files only)."""
        if self.directory is None:
            return list(self._memory)
        try:
            return [n for n in os.listdir(self.directory) if not n.endswith(_TEMP_SUFFIX)]
        except FileNotFoundError:
            return []

    def remove(self, names) -> None:
        for name in names:
            if self.directory is None:
                self._memory.pop(name, None)
                continue
            try:
                os.unlink(os.path.join(self.directory, name))
            except FileNotFoundError:
                pass

    def remove_job(self, job_ids) -> None:
        """Remove every value of these jobs (their arguments and the results of every attempt)."""
        ids = set(job_ids)
        if ids:
            self.remove([n for n in self.names() if n.split(".", 1)[0] in ids])
