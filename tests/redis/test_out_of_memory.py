"""Redis at ``maxmemory`` (``noeviction``) on a server of the test's own: what the store still does there. Renewing
the lease of a job in flight needs no memory, and is still done: refused, every lease lapsed, and each job in flight
was handed to a second worker process while its first still ran it (a page fetched twice, a webhook run twice)."""

from __future__ import annotations

import asyncio

import redis

from linkcast.core.events import result_body
from linkcast.settings import Settings
from linkcast.store.redis import RedisStore
from tests.support.redis import RedisServer, refuse_writes

LEASE_SECONDS = 0.6


async def test_a_job_in_flight_keeps_its_lease_while_redis_is_out_of_memory(own_redis: RedisServer) -> None:
    settings = Settings(store=own_redis.url, job_visibility_timeout=LEASE_SECONDS)
    running, other = RedisStore(settings), RedisStore(settings)  # two worker processes
    await running.open()
    await other.open()
    try:
        await running.submit("a", "https://example.com/")
        job = await running.next_job("w1", timeout=5.0)
        assert job is not None
        with redis.Redis.from_url(own_redis.url) as client:
            refuse_writes(client)
            await asyncio.sleep(3 * LEASE_SECONDS)  # its holder renews the lease meanwhile
            assert await other.next_job("w2", timeout=LEASE_SECONDS) is None, "handed to a second worker"
            client.config_set("maxmemory", "0")
        body = result_body(
            "a", job.url, final_url=job.url, status_code=200, links=[], links_truncated=False, timings={}
        )
        assert await running.finish(job, body) is not None
    finally:
        await running.close()
        await other.close()
