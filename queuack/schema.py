"""What makes a database a queuack database, and which version of its layout it holds.

Decisions:
- Everything queuack stores lives in a schema of its own, `queuack`, whose `meta` table records
  the layout's version. That marker is checked read-only before anything is written: a database
  that is not ours (another application's tables, even ones named `jobs` or `owner`) is refused
  with a clear error and stays byte for byte as it was.
- One number per backend (SCHEMA_VERSION here for DuckDB, postgres.SCHEMA_VERSION), and one rule,
  check_version(): an older layout is upgraded in place in one transaction, a newer one is
  refused (this queuack cannot know what it means).
- Version 0 is the layout before the marker: four tables in `main`, recognised by their exact
  columns (LEGACY_TABLES, frozen here), not by their names alone.
- To change the layout: edit schema.sql (the current layout, created with IF NOT EXISTS), bump
  SCHEMA_VERSION and add the step that brings the previous version's data along to _UPGRADES.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import duckdb

from .errors import NotAQueueDatabaseError, QueuackError

SCHEMA = "queuack"
SCHEMA_VERSION = 2
VERSION_KEY = "schema_version"


def check_version(found: int, location: str, understood: int = SCHEMA_VERSION) -> None:
    """Refuse a database written by a newer queuack (`understood`: the backend's own version)."""
    if found > understood:
        raise QueuackError(
            f"{location} holds schema version {found}, written by a newer queuack; this queuack "
            f"understands version {understood} at most. Upgrade queuack (pip install -U queuack) "
            "to open it; nothing was changed."
        )


# -- DuckDB ------------------------------------------------------------------------------------
# The layout of queuack before the marker (version 0), as information_schema describes it.
LEGACY_TABLES = {
    "jobs": (
        ("id", "VARCHAR"), ("queue", "VARCHAR"), ("status", "VARCHAR"), ("priority", "INTEGER"),
        ("seq", "BIGINT"), ("codec", "VARCHAR"), ("func", "BLOB"), ("args", "BLOB"), ("kwargs", "BLOB"),
        ("created_at", "DOUBLE"), ("execute_after", "DOUBLE"), ("attempts", "INTEGER"),
        ("max_attempts", "INTEGER"), ("timeout_seconds", "DOUBLE"), ("claimed_by", "VARCHAR"),
        ("claimed_at", "DOUBLE"), ("lease_expires_at", "DOUBLE"), ("completed_at", "DOUBLE"),
        ("result", "BLOB"), ("error", "VARCHAR"), ("traceback", "VARCHAR"), ("node_name", "VARCHAR"),
        ("dag_run_id", "VARCHAR"), ("dependency_mode", "VARCHAR"),
    ),
    "job_dependencies": (("child_id", "VARCHAR"), ("parent_id", "VARCHAR"), ("position", "INTEGER")),
    "dag_runs": (("id", "VARCHAR"), ("name", "VARCHAR"), ("created_at", "DOUBLE")),
    "owner": (("pid", "INTEGER"), ("opened_at", "DOUBLE")),
}


@dataclass
class Found:
    """What a database holds: kind is queuack (with its version), empty, or foreign (described)."""

    kind: str
    version: int | None = None
    contents: str = ""


def identify(conn: duckdb.DuckDBPyConnection) -> Found:
    """Look, without writing, at what the connection's database holds."""
    columns: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, kind in conn.execute(
        """SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns
           WHERE table_catalog = current_database() ORDER BY table_schema, table_name, ordinal_position"""
    ).fetchall():
        columns.setdefault((schema, table), []).append((column, kind))
    schemas = {r[0] for r in conn.execute(
        "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() AND NOT internal"
    ).fetchall()}
    if SCHEMA in schemas or any(schema == SCHEMA for schema, _ in columns):
        version = _stored_version(conn) if (SCHEMA, "meta") in columns else None
        if version is None:
            return Found("foreign", contents=f"a schema named {SCHEMA!r} without queuack's version marker")
        return Found("queuack", version)
    main = {table: tuple(cols) for (schema, table), cols in columns.items() if schema == "main"}
    if all(main.get(table) == cols for table, cols in LEGACY_TABLES.items()):
        return Found("queuack", 0)
    sequences = conn.execute(
        "SELECT count(*) FROM duckdb_sequences() WHERE database_name = current_database()").fetchone()[0]
    if not columns and not schemas and not sequences:
        return Found("empty")
    names = sorted(f"{t}" if s == "main" else f"{s}.{t}" for s, t in columns)
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return Found("foreign", contents=f"tables {shown}" if names else "objects of its own")


def _stored_version(conn) -> int | None:
    row = conn.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = ?", [VERSION_KEY]).fetchone()
    try:
        return int(row[0]) if row else None
    except ValueError:
        return None


def refuse_unless_ours(found: Found, location: str, read_only: bool = False) -> None:
    """Raise unless queuack may open this database (read_only: without creating anything)."""
    if found.kind == "foreign":
        raise NotAQueueDatabaseError(
            f"{location} is not a queuack database: it is a DuckDB database that holds {found.contents}. "
            "queuack keeps its jobs in a database of its own and never writes into another "
            "application's: give DuckQueue (or the queuack command) a new file path instead. "
            "Nothing was changed."
        )
    if found.kind == "empty" and read_only:
        raise NotAQueueDatabaseError(
            f"{location} is an empty DuckDB database, not a queue yet: DuckQueue({location!r}) creates "
            "the queue in it when it opens it. Nothing was changed."
        )
    if found.version is not None:
        check_version(found.version, location)


def prepare(conn: duckdb.DuckDBPyConnection, location: str, read_only: bool = False,
            found: Found | None = None) -> None:
    """Make the connection's database ready for the store, or refuse it having written nothing.

    Creates the schema in an empty database and upgrades an older layout, in one transaction
    (read_only: neither). The connection then resolves unqualified table names in our schema.
    """
    found = found or identify(conn)
    refuse_unless_ours(found, location, read_only)
    if not read_only and (found.kind == "empty" or found.version < SCHEMA_VERSION):
        conn.execute("BEGIN TRANSACTION")
        try:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            conn.execute(f"SET schema = '{SCHEMA}'")
            conn.execute(schema_sql())
            for version in range(found.version or 0, SCHEMA_VERSION) if found.kind == "queuack" else ():
                _UPGRADES[version](conn)
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [VERSION_KEY, str(SCHEMA_VERSION)])
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        found = Found("queuack", SCHEMA_VERSION)
    conn.execute(f"SET schema = '{'main' if found.version == 0 else SCHEMA}'")


def schema_sql() -> str:
    return resources.files("queuack").joinpath("schema.sql").read_text()


def _from_unmarked(conn) -> None:
    """Version 0 -> 1: move the four tables from `main` into our schema."""
    for table, cols in LEGACY_TABLES.items():
        names = ", ".join(c for c, _ in cols)
        conn.execute(f"INSERT INTO {SCHEMA}.{table} ({names}) SELECT {names} FROM main.{table}")
        conn.execute(f"DROP TABLE main.{table}")


def _dag_run_links(conn) -> None:
    """Version 1 -> 2: dag_runs records the parent job of a sub-DAG run and when a run was cancelled."""
    conn.execute("ALTER TABLE dag_runs ADD COLUMN IF NOT EXISTS parent_job_id VARCHAR")
    conn.execute("ALTER TABLE dag_runs ADD COLUMN IF NOT EXISTS cancelled_at DOUBLE")


_UPGRADES = {0: _from_unmarked, 1: _dag_run_links}
