"""A Redis for the tests: the one at ``LINKCAST_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``), else a
``redis-server`` started on a free port, else a skip (a failure under ``LINKCAST_TEST_STRICT=1``).

Each test gets its own key prefix (``redis_prefix``), deleted afterwards, so tests never see each other's keys and a
shared Redis is left as it was found.

Use from a conftest: ``from tests.support.redis import redis_prefix, redis_url  # noqa: F401``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.support.ports import free_port
from tests.support.strict import require

DEFAULT_URL = "redis://127.0.0.1:6379/15"
STARTUP_TIMEOUT = 10.0


def reachable(url: str) -> bool:
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


class RedisServer:
    """``redis-server`` on a free loopback port, for this test session or one test; ``persistent`` keeps its data
    across a stop and start (append-only file, fsync on every write)."""

    def __init__(self, persistent: bool = False) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="linkcast-redis-")
        self.persistence = ["--appendonly", "yes", "--appendfsync", "always"] if persistent else ["--appendonly", "no"]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--dir", self.dir,
             *self.persistence],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if reachable(self.url):
                return
            time.sleep(0.05)
        raise TimeoutError(f"redis-server did not answer within {STARTUP_TIMEOUT} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def refuse_writes(client: redis.Redis) -> None:
    """``maxmemory`` well below what Redis holds now (which the buffers freed as it idles lower a little): every
    write that needs memory is refused."""
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", str(client.info("memory")["used_memory"] // 2))


def delete_prefix(url: str, prefix: str) -> None:
    """Remove every key under ``prefix:``."""
    with redis.Redis.from_url(url) as client:
        batch = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        while batch:
            client.unlink(*batch)
            batch = list(client.scan_iter(match=f"{prefix}:*", count=1000))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL of a Redis to test against, or a skip (a failure under strict mode) when there is none."""
    url = os.environ.get("LINKCAST_TEST_REDIS_URL", DEFAULT_URL)
    if reachable(url):
        yield url
        return
    require(
        shutil.which("redis-server") is not None,
        f"Redis is needed: none answers at {url} (set LINKCAST_TEST_REDIS_URL) and no redis-server binary to start",
    )
    server = RedisServer()
    try:
        server.start()
        yield server.url
    finally:
        server.remove()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    prefix = f"linkcast-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    delete_prefix(redis_url, prefix)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own, for settings a shared Redis must not get (``maxmemory``), removed after."""
    require(shutil.which("redis-server") is not None, "this test sets up a redis-server of its own: none found")
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.remove()
