"""The throwaway PostgreSQL server that the PostgreSQL tests run against."""

import os

import pytest


# in CI a missing driver fails (no PostgreSQL test may skip there); elsewhere these tests skip
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    import psycopg
else:
    psycopg = pytest.importorskip("psycopg", reason='the PostgreSQL driver is missing: pip install -e ".[test]"')


def test_server_runs_and_gives_each_test_an_empty_database(pg_server, pg_url):
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0].startswith("test_")
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname NOT IN "
                              "('pg_catalog', 'information_schema')").fetchone()[0]
    assert tables == 0
    assert pg_server.port and "127.0.0.1" in pg_url
