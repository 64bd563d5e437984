"""PostgreSQL figures for PgQueuer (run with .bench/venv-pgqueuer).

Prints {"enqueue_batch": fig, "drain_1": fig, "drain_4": fig}, measured as pg_ours.py measures
this project: --batch jobs per enqueue call; the drain forks its worker processes (QueueManager.run
in drain mode, PgQueuer's defaults otherwise) before the clock starts and releases them together.
"""

from __future__ import annotations

import asyncio
import time

import _wl


async def _connect(url):
    import asyncpg
    from pgqueuer import AsyncpgDriver, Queries

    conn = await asyncpg.connect(url)
    return conn, Queries(AsyncpgDriver(conn))


async def _install(url):
    conn, queries = await _connect(url)
    await queries.install()
    await conn.close()


async def _enqueue(url, n, batch):
    conn, queries = await _connect(url)
    start = time.perf_counter()
    for k in range(0, n, batch):
        size = min(batch, n - k)
        await queries.enqueue(["noop"] * size, [None] * size, [0] * size)
    secs = time.perf_counter() - start
    await conn.close()
    return secs


async def _drain(url, ready, go):
    import asyncpg
    from pgqueuer import AsyncpgDriver, Queries, QueueManager
    from pgqueuer.types import QueueExecutionMode

    conn = await asyncpg.connect(url)
    qm = QueueManager(Queries(AsyncpgDriver(conn)))

    @qm.entrypoint("noop")
    async def noop(job) -> None:
        return None

    ready.wait()
    go.wait()
    await qm.run(mode=QueueExecutionMode.drain)
    await conn.close()


def _worker(url, ready, go, stop):
    asyncio.run(_drain(url, ready, go))


async def _remaining(url):
    conn = await asyncpg_connect(url)
    n = await conn.fetchval("SELECT count(*) FROM pgqueuer")
    await conn.close()
    return n


def asyncpg_connect(url):
    import asyncpg

    return asyncpg.connect(url)


def main():
    a = _wl.pg_parser(__doc__).parse_args()  # --n-dag is not used: PgQueuer has no DAGs
    urls = iter(a.url)
    out = {}
    url = next(urls)
    asyncio.run(_install(url))
    out["enqueue_batch"] = _wl.figure(a.n_batch, asyncio.run(_enqueue(url, a.n_batch, a.batch)), batch=a.batch)
    for processes in (1, 4):
        url = next(urls)
        asyncio.run(_install(url))
        asyncio.run(_enqueue(url, a.n_drain, 1000))
        secs = _wl.forked_workers(_worker, (url,), processes)
        left = asyncio.run(_remaining(url))
        assert left == 0, f"{left} jobs left"
        out[f"drain_{processes}"] = _wl.figure(a.n_drain, secs, processes=processes)
    _wl.emit(out)


if __name__ == "__main__":
    main()
