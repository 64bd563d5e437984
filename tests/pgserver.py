"""A throwaway PostgreSQL server in a temporary directory, for the tests and the benchmarks.

Debian's server binaries live in /usr/lib/postgresql/<version>/bin and refuse to run as root, so
when we are root the cluster is created and started as the unprivileged `postgres` account (the
temporary directory is handed to it and its parent must be traversable). The server listens on
127.0.0.1 at a free port and keeps its socket in the same directory; `stop()` removes everything.

Standalone on purpose (no pytest): `python -m benchmarks.run` starts one too.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

HOW_TO_GET_ONE = (
    "PostgreSQL's server binaries (initdb, pg_ctl) were not found. Install them "
    "(Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql`) or put their "
    "directory on PATH; the tests start a throwaway server themselves."
)


class ServerUnavailable(RuntimeError):
    pass


def find_bindir() -> str | None:
    """The directory of initdb and pg_ctl: Debian's newest version, else whatever PATH has."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if candidates:
        return str(Path(candidates[-1]).parent)
    found = shutil.which("initdb")
    return str(Path(found).parent) if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgServer:
    """initdb + pg_ctl start in a fresh temporary directory; `url(dbname)` to connect."""

    def __init__(self, settings: dict[str, str] | None = None):
        self.bindir = find_bindir()
        if self.bindir is None:
            raise ServerUnavailable(HOW_TO_GET_ONE)
        self.settings = {"fsync": "off", "max_connections": "200", **(settings or {})}
        self.user = None
        if os.geteuid() == 0:  # the server refuses to run as root
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                raise ServerUnavailable("running as root, and there is no unprivileged `postgres` account "
                                        "to run the PostgreSQL server as (useradd postgres)") from None
        parent = tempfile.gettempdir()
        if self.user is not None and not os.stat(parent).st_mode & 0o001:
            parent = "/tmp"  # the server's account must be able to reach its directory
        self.dir = tempfile.mkdtemp(prefix="queuack-pg-", dir=parent)
        os.chmod(self.dir, 0o700)
        if self.user is not None:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        self.started = False

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        kwargs = {}
        if self.user is not None:
            kwargs = dict(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
        result = subprocess.run([os.path.join(self.bindir, args[0]), *args[1:]], cwd=self.dir,
                                capture_output=True, text=True, **kwargs)
        if check and result.returncode != 0:
            log = Path(self.dir, "server.log")
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ServerUnavailable(f"{args[0]} failed ({result.returncode}): {result.stderr.strip()}\n{tail}")
        return result

    def start(self) -> "PgServer":
        if not os.path.exists(self.data):
            self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 " + " ".join(
            f"-c {k}={v}" for k, v in self.settings.items())
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", os.path.join(self.dir, "server.log"),
                  "-w", "-t", "60", "start")
        self.started = True
        return self

    def restart(self) -> None:
        """Stop at once (connections are cut, as when a server crashes or restarts) and start again."""
        self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        self.started = False
        self.start()

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def __enter__(self) -> "PgServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
