"""A process that cannot start exits promptly with a non-zero code and says why, whatever the store: a taken port,
an unreachable Redis, an unusable database file. A process manager then sees the failure at once."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import free_port

PROMPTLY = 20.0  # seconds: shutdown steps are bounded well under this


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another program listens on."""
    port = free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        yield port


def run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "linkcast", *args, "--log-level", "warning"]
    return subprocess.run(command, capture_output=True, text=True, timeout=PROMPTLY, check=False)


def test_an_api_replica_on_redis_exits_when_its_port_is_taken(
    taken_port: int, redis_url: str, redis_prefix: str
) -> None:
    answer = run("serve", "--workers", "0", "--host", "127.0.0.1", "--port", str(taken_port),
                 "--store", redis_url, "--redis-prefix", redis_prefix)  # fmt: skip
    assert answer.returncode != 0
    assert "address already in use" in answer.stderr


def test_a_server_on_sqlite_exits_when_its_port_is_taken(taken_port: int, tmp_path: Path) -> None:
    answer = run("serve", "--host", "127.0.0.1", "--port", str(taken_port), "--store", f"sqlite:///{tmp_path}/x.db")
    assert answer.returncode != 0
    assert "address already in use" in answer.stderr


def test_a_server_exits_when_redis_cannot_be_reached() -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    answer = run("serve", "--host", "127.0.0.1", "--port", str(free_port()), "--store", unreachable)
    assert answer.returncode != 0
    assert "store_unavailable" in answer.stderr


def test_a_worker_exits_when_redis_cannot_be_reached() -> None:
    answer = run("worker", "--store", f"redis://127.0.0.1:{free_port()}/0")
    assert answer.returncode != 0
    assert "store_unavailable" in answer.stderr
    assert "Traceback" not in answer.stderr


def test_a_server_exits_when_its_database_is_not_one(tmp_path: Path) -> None:
    (tmp_path / "x.db").write_bytes(b"this is no SQLite database, " * 1000)
    answer = run("serve", "--host", "127.0.0.1", "--port", str(free_port()), "--store", f"sqlite:///{tmp_path}/x.db")
    assert answer.returncode != 0
    assert "store_corrupt" in answer.stderr
