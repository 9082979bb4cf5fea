"""Reads on PostgreSQL go through a pool of connections, and a request may be started
out of turn (started.py): the two must never wait for each other."""

import asyncio

import asyncpg

from chatroom.server.started import Started
from chatroom.server.store.postgres import PostgresDatabase, ReadPool
from tests.conftest import WAIT, new_schema
from tests.engines import Postgres


async def test_requests_started_out_of_turn_never_hold_the_pools_connections_from_those_before(
    postgres: Postgres,
) -> None:
    """One connection in the pool. A request of another connection holds it; a client
    then pipelines two requests (`first`, `second`), which wait for it in that order.
    When it is freed, it is handed to `first`, but a request that arrives meanwhile takes
    it before `first` runs, and `first` waits again, now behind `second`. The next time
    it is freed it goes to `second`, which may not run before `first` is answered: with
    each call waiting for its connection in the request itself, nobody ever takes it."""
    pool = await asyncpg.create_pool(await new_schema(postgres), min_size=1, max_size=1)
    reads = PostgresDatabase(ReadPool(pool))
    try:
        holder = Started(reads.execute_fetchall("SELECT 'holder' FROM pg_sleep(0.05)"))
        first = Started(reads.execute_fetchall("SELECT 'first'"))
        second = Started(reads.execute_fetchall("SELECT 'second'"))
        assert await holder.result() == [("holder",)]
        latecomer = Started(reads.execute_fetchall("SELECT 'latecomer'"))
        async with asyncio.timeout(WAIT):
            answered = await asyncio.gather(latecomer.result(), first.result())
            assert answered == [[("latecomer",)], [("first",)]]
            assert await second.result() == [("second",)]
    finally:
        await pool.close()
