"""The throwaway PostgreSQL server that the PostgreSQL tests run against."""

import psycopg


def test_server_runs_and_gives_each_test_an_empty_database(pg_server, pg_url):
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0].startswith("test_")
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname NOT IN "
                              "('pg_catalog', 'information_schema')").fetchone()[0]
    assert tables == 0
    assert pg_server.port and "127.0.0.1" in pg_url
