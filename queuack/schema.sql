-- The queue's durable state. Scheduling (which job is ready) is derived from these rows when the
-- file is opened and then kept in memory by the one process that owns the file.
-- The tables live in the `queuack` schema: schema.py creates it and runs this file with it as
-- the default schema, then records the layout's version in meta (see schema.py to change it).

CREATE TABLE IF NOT EXISTS meta (
    key   VARCHAR PRIMARY KEY,             -- schema_version
    value VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS jobs (
    id               VARCHAR PRIMARY KEY,
    queue            VARCHAR NOT NULL,
    status           VARCHAR NOT NULL,     -- pending | claimed | done | failed | skipped
    priority         INTEGER NOT NULL,     -- higher runs first
    seq              BIGINT  NOT NULL,     -- FIFO order within a priority
    codec            VARCHAR NOT NULL,     -- how func, args, kwargs and result are encoded: pickle | json
    func             BLOB    NOT NULL,
    args             BLOB    NOT NULL,
    kwargs           BLOB    NOT NULL,
    created_at       DOUBLE  NOT NULL,     -- unix seconds
    execute_after    DOUBLE  NOT NULL,     -- not claimable before this (delays and retry backoff)
    attempts         INTEGER NOT NULL,     -- counted when a claim is taken
    max_attempts     INTEGER NOT NULL,
    timeout_seconds  DOUBLE,
    claimed_by       VARCHAR,
    claimed_at       DOUBLE,
    lease_expires_at DOUBLE,
    completed_at     DOUBLE,
    result           BLOB,
    error            VARCHAR,
    traceback        VARCHAR,
    node_name        VARCHAR,              -- the task's name inside its DAG
    dag_run_id       VARCHAR,
    dependency_mode  VARCHAR NOT NULL      -- all | any
);

-- One row per edge; position keeps the order in which depends_on declared the parents.
CREATE TABLE IF NOT EXISTS job_dependencies (
    child_id  VARCHAR NOT NULL,
    parent_id VARCHAR NOT NULL,
    position  INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS dag_runs (
    id            VARCHAR PRIMARY KEY,
    name          VARCHAR NOT NULL,
    created_at    DOUBLE  NOT NULL,
    parent_job_id VARCHAR,              -- the job that ran this run as its sub-DAG
    cancelled_at  DOUBLE                -- set by DAGRun.cancel()
);

-- The process that has the file open; the row is removed by a clean close. Finding one at open
-- means the previous owner crashed.
CREATE TABLE IF NOT EXISTS owner (
    pid       INTEGER NOT NULL,
    opened_at DOUBLE  NOT NULL
);
