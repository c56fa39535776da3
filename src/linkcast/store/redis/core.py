"""The Redis backend's core: its connections, its error translation, and jobs (the fair scheduler of
``scheduler_scripts.py``), leased to their workers and renewed by the process that holds them.

Many API replicas and worker processes share one Redis: every job of every kind waits in one scheduler, so per-host
concurrency and spacing hold across all the worker processes. Idle workers wait on ``P:wake`` (BLPOP), which every
step that may make a job claimable pushes to; they also look again when the scheduler says time will (a host's
spacing ending, a job coming due, a lease lapsing), and at least every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from linkcast.core.errors import LinkcastError, StoreFull, StoreUnavailable
from linkcast.core.events import Job
from linkcast.logs import RepeatedProblem
from linkcast.settings import Settings
from linkcast.store.base import Store
from linkcast.store.redis.scheduler_scripts import CLAIM, GIVE_BACK, RENEW, SET_CRAWL_DELAY, TAKE_HOST_TURN

log = logging.getLogger(__name__)

# Redis refusing writes for want of room: maxmemory reached (OOM), or snapshots failing on a full disk (MISCONF).
FULL_REPLIES = ("OOM", "MISCONF")
# Blocking reads wait at most this long per call, well under the socket timeout, so that a long block is never
# mistaken for a dead connection and a dead one is still noticed.
SOCKET_TIMEOUT_SECONDS = 30.0
BLOCK_MAX_MS = 10_000
# Records read in one round trip while a listing's page is filled, each of which may hold an 8 MiB result: a page
# stops once it holds its bytes (``listing``), so what is read past them is at most this many.
READ_AT_ONCE = 8
# The longest an idle worker waits before looking again, whatever the scheduler says.
IDLE_LOOK_SECONDS = 1.0
COMMAND_CONNECTIONS = 64
BLOCKING_CONNECTIONS = 10_000  # one per waiting reader: bounded by the worker count, not by load


class RedisCore(Store):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        # A store full or away fails every round (a third of a lease): one line, then one a minute with a count.
        self._renewing_failed = RepeatedProblem(log)
        # RESP2 pinned: the parsing below reads its shapes (redis-py may change its default protocol).
        options: dict[str, Any] = {"protocol": 2, "socket_timeout": SOCKET_TIMEOUT_SECONDS, "socket_connect_timeout": 5}
        # Commands share a bounded pool and wait for a free connection under load (the default pool raises instead).
        commands = aioredis.BlockingConnectionPool.from_url(
            settings.store, max_connections=COMMAND_CONNECTIONS, timeout=SOCKET_TIMEOUT_SECONDS, **options
        )
        self.redis: aioredis.Redis = aioredis.Redis.from_pool(commands)
        # Each blocking read (an idle worker's BLPOP, the hub's XREAD) holds a connection while it waits: they get
        # their own pool, so that waiting readers never starve the commands.
        self.blocking: aioredis.Redis = aioredis.Redis.from_url(
            settings.store, max_connections=BLOCKING_CONNECTIONS, **options
        )
        self.prefix = settings.redis_prefix
        self.lease_seconds = max(0.001, settings.job_visibility_timeout)
        self.concurrency = max(1, settings.per_host_concurrency)
        self.delay = max(0.0, settings.per_host_delay)
        self._maxlen = max(1, settings.retain_events)
        self._scripts: dict[str, Any] = {}
        self.register(
            {
                "claim": CLAIM,
                "give_back": GIVE_BACK,
                "renew": RENEW,
                "set_crawl_delay": SET_CRAWL_DELAY,
                "take_host_turn": TAKE_HOST_TURN,
            }
        )
        self._held: dict[str, str] = {}  # job id -> owner, for the jobs this process's workers hold
        self._receipts = itertools.count(1)
        self._renewing: asyncio.Task[None] | None = None

    def register(self, scripts: dict[str, str]) -> None:
        self._scripts.update({name: self.redis.register_script(source) for name, source in scripts.items()})

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def run_script(self, name: str, *args: Any) -> Any:
        """Run script ``name`` with the prefix as its first argument."""
        return await self._scripts[name](args=[self.prefix, *args])

    async def queue_script(self, pipeline: Any, name: str, *args: Any) -> None:
        """Queue script ``name`` (the prefix its first argument) in ``pipeline``, which runs it on ``execute``."""
        await self._scripts[name](args=[self.prefix, *args], client=pipeline)

    async def open(self) -> None:
        await self.redis.ping()
        self._renewing = asyncio.create_task(self._renew_leases_forever(), name="linkcast-redis-leases")

    async def close(self) -> None:
        """Stop renewing held jobs (they return to their queues after a lease); safe to call twice."""
        if self._renewing is not None:
            self._renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewing
            self._renewing = None
        await self.redis.aclose()
        await self.blocking.aclose()

    async def probe_write(self) -> None:
        await self.redis.set(self.key("health_probe"), repr(time.time()))  # refused at maxmemory, as any write

    def translate_error(self, error: Exception) -> LinkcastError | None:
        if isinstance(error, RedisConnectionError | RedisTimeoutError | OSError):
            return StoreUnavailable(f"the store is unreachable: {error}")
        # redis-py makes an OOM reply an OutOfMemoryError and takes "OOM" off its message (MISCONF keeps its prefix).
        if isinstance(error, OutOfMemoryError) or (
            isinstance(error, ResponseError) and str(error).startswith(FULL_REPLIES)
        ):
            return StoreFull(f"Redis refuses writes: {error}")
        if isinstance(error, RedisError):
            return StoreUnavailable(f"the store failed: {error}")
        return None

    # -- jobs -----------------------------------------------------------------------------------------------------

    async def claim_job(self, worker_id: str, timeout: float) -> Job | None:
        deadline = time.monotonic() + timeout
        while True:
            owner = f"{worker_id}#{next(self._receipts)}"
            now = time.time()
            answer = await self.run_script(
                "claim", repr(now), repr(now + self.lease_seconds), owner, self.concurrency, repr(self.delay)
            )
            if answer[0]:
                job_id, kind, request_id, url, data, attempts = answer[:6]
                self._held[job_id.decode()] = owner
                job = Job(
                    request_id.decode(),
                    url.decode(),
                    int(attempts),
                    f"{job_id.decode()}/{owner}",
                    kind.decode(),
                    orjson.loads(data) if data else {},
                )
                return self._preread(job, answer[6:]) if len(answer) > 6 else job
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            wait = min(remaining, IDLE_LOOK_SECONDS)
            if answer[1]:
                wait = min(wait, max(0.001, float(answer[1]) - now))
            await self.blocking.blpop([self.key("wake")], timeout=wait)

    def _preread(self, job: Job, read: list[Any]) -> Job:
        """``job`` with what the claim script read for its handler (``Job.preread``), decoded by a backend mixin."""
        return job

    @staticmethod
    def receipt_of(job: Job) -> tuple[str, str]:
        job_id, _, owner = job.receipt.partition("/")
        return job_id, owner

    def forget(self, job: Job) -> None:
        job_id, owner = self.receipt_of(job)
        if self._held.get(job_id) == owner:  # not a later holder's lease, after this one lapsed
            del self._held[job_id]

    async def release(self, job: Job, retry_at: float | None = None) -> None:
        self.forget(job)
        job_id, owner = self.receipt_of(job)
        later = repr(retry_at) if retry_at is not None else ""
        await self.run_script("give_back", repr(time.time()), self.concurrency, job_id, owner, later)

    async def set_crawl_delay(self, host: str, delay: float, until: float) -> None:
        await self.run_script("set_crawl_delay", repr(time.time()), host, repr(delay), repr(until), self.concurrency)

    async def take_host_turn(self, host: str, within: float | None = None) -> float | None:
        bound = "-1" if within is None else repr(max(0.0, within))
        turn = await self.run_script("take_host_turn", repr(time.time()), host, self.concurrency, bound)
        return None if turn is None else float(turn)

    async def _renew_leases_forever(self) -> None:
        """Keep the leases of the jobs this process's workers hold from lapsing: a third of a lease between renewals."""
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            held = list(self._held.items())
            if not held:
                continue
            pairs = [part for job_id, owner in held for part in (job_id, owner)]
            try:
                await self.run_script("renew", repr(time.time() + self.lease_seconds), *pairs)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the next round tries again; a lapsed lease only means a second delivery
                self._renewing_failed.report("renewing job leases failed", self.translate_error(error) or error)

    async def queue_depth(self) -> int:
        value = await self.redis.get(self.key("nqueued"))
        return max(0, int(value)) if value else 0


def hash_fields(flat: list[bytes]) -> dict[bytes, bytes]:
    """A hash as a script answers it (``HGETALL``: field, value, field, value...) as ``hgetall`` answers it."""
    pairs = iter(flat)
    return dict(zip(pairs, pairs, strict=True))
