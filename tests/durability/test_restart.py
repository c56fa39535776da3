"""Restarts lose nothing: SIGKILL mid-work, SIGTERM drains, state and idempotency survive."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.durability.conftest import Gate, ids_of, put_all, serve
from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite

TERMINAL = ("result", "error")


def started(frames: list[dict[str, Any]], request_ids: set[str]) -> set[str]:
    return {f["request_id"] for f in frames if f.get("type") == "started" and f["request_id"] in request_ids}


def terminal_counts(frames: list[dict[str, Any]]) -> Counter[str]:
    return Counter(f["request_id"] for f in frames if f.get("type") in TERMINAL)


def request_states(db: sqlite3.Connection) -> dict[str, int]:
    return dict(db.execute("SELECT state, count(*) FROM requests GROUP BY state").fetchall())


async def sigterm_once_four_run(service: Service, ws: Any, pages: dict[str, str]) -> None:
    """Submit ``pages`` (held by the gate) to a service with 4 workers; SIGTERM it once all 4 are fetching."""
    await put_all(service, pages)
    await receive_until(ws, lambda fs: len(started(fs, set(pages))) == 4)
    assert service.process is not None
    service.process.send_signal(signal.SIGTERM)


async def test_sigkill_mid_work_loses_nothing_and_repeats_nothing(
    tmp_path: Path, site: LocalSite, gate: Gate, capsys: pytest.CaptureFixture[str]
) -> None:
    service = serve(tmp_path, "--workers", "16", "--per-host-concurrency", "64")
    await service.start()
    try:
        fast = {f"fast{n}": site.page(f"/fast{n}", f'<a href="/f{n}">f</a>') for n in range(20)}
        slow = {f"slow{n}": gate.page(f"/slow{n}", f'<a href="/s{n}">s</a>') for n in range(180)}
        everything = set(fast) | set(slow)
        # close_timeout: once the server is dead, the client should not wait for its half of the closing handshake.
        async with service.connect(close_timeout=0.1) as ws:
            statuses = await put_all(service, fast)  # queued first, so they finish before workers block
            statuses |= await put_all(service, slow)
            assert Counter(statuses.values()) == {201: 200}
            # Kill once the fast ones are done and every worker is stuck on a slow page: some finished, some
            # running, the rest queued.
            before = await receive_until(
                ws, lambda fs: len(terminal_for(fs, set(fast))) == 20 and len(started(fs, set(slow))) >= 16
            )
            service.kill()
        running_at_kill = started(before, set(slow)) - set(terminal_for(before, set(slow)))
        await service.start()
        gate.opened.set()
        async with service.connect(f"since={max(ids_of(before))}") as ws:
            after = await receive_until(ws, lambda fs: set(terminal_counts(before + fs)) == everything, 60)
        seen_by_client = terminal_counts(before + after)
        assert seen_by_client == dict.fromkeys(everything, 1), "each terminal event exactly once across the restart"

        async with service.connect("since=0") as ws:
            log = await receive_until(ws, lambda fs: set(terminal_counts(fs)) == everything, 60)
        assert terminal_counts(log) == dict.fromkeys(everything, 1), "the log holds exactly one terminal per request"
        assert ids_of(log) == sorted(set(ids_of(log)))
        rerun = {f["request_id"] for f in log if f.get("type") == "started" and f.get("attempt") == 2}
        assert rerun == running_at_kill, "the jobs interrupted by the kill, and only those, ran again"
        for request_id in ("fast0", "slow0", "slow179"):
            status, body = await service.call("GET", f"/urls/{request_id}")
            assert (status, body["state"]) == (200, "done")
        with capsys.disabled():
            print(
                f"\n[restart counts] accepted={len(statuses)}"
                f" finished_before_kill={len(terminal_for(before, everything))}"
                f" running_at_kill={len(running_at_kill)} queued_at_kill={200 - len(started(before, everything))}"
                f" terminal_after_restart={sum(seen_by_client.values())} duplicates=0 rerun={len(rerun)}"
            )
    finally:
        service.kill()


async def test_sigterm_drains_running_jobs_and_takes_no_new_ones(tmp_path: Path, gate: Gate) -> None:
    service = serve(tmp_path, "--workers", "4", "--per-host-concurrency", "64")
    await service.start()
    try:
        slow = {f"s{n}": gate.page(f"/s{n}", f'<a href="/x{n}">x</a>') for n in range(12)}
        async with service.connect() as ws:
            await sigterm_once_four_run(service, ws, slow)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await receive_until(ws, lambda fs: False, timeout=20)
        assert closed.value.rcvd is not None, "the client got a close frame, not a dropped connection"
        assert closed.value.rcvd.code in (1001, 1012)
        gate.opened.set()  # the four running fetches may now finish, during the drain
        assert await asyncio.to_thread(service.process.wait, 30) is not None
        with sqlite3.connect(tmp_path / "linkcast.db") as db:
            states = request_states(db)
        assert states == {"done": 4, "queued": 8}, "running jobs finished; no new job was taken"

        await service.start()
        async with service.connect("since=0") as ws:
            log = await receive_until(ws, lambda fs: set(terminal_counts(fs)) == set(slow))
        assert terminal_counts(log) == dict.fromkeys(slow, 1)
        # Each ran once: the four running at SIGTERM finished in the drain, the eight queued ran after the restart.
        assert Counter(f["request_id"] for f in log if f.get("type") == "started") == dict.fromkeys(slow, 1)
    finally:
        service.kill()


async def test_sigterm_returns_jobs_still_running_after_the_grace_period_to_the_queue(
    tmp_path: Path, gate: Gate
) -> None:
    # Fetch timeouts far beyond the drain's grace period (10 s): the held fetches can only be cut short by the drain.
    service = serve(tmp_path, "--workers", "4", "--read-timeout", "60", "--fetch-timeout", "60")
    await service.start()
    try:
        held = {f"h{n}": gate.page(f"/h{n}", f'<a href="/y{n}">y</a>') for n in range(6)}
        async with service.connect() as ws:
            await sigterm_once_four_run(service, ws, held)
            assert await asyncio.to_thread(service.process.wait, 30) is not None
        with sqlite3.connect(tmp_path / "linkcast.db") as db:
            states = request_states(db)
            owned = db.execute("SELECT count(*) FROM jobs WHERE owner IS NOT NULL").fetchone()[0]
        assert (states, owned) == ({"queued": 6}, 0), "the four running jobs went back to the queue"

        await service.start()
        gate.opened.set()
        async with service.connect("since=0") as ws:
            log = await receive_until(ws, lambda fs: set(terminal_counts(fs)) == set(held))
        assert terminal_counts(log) == dict.fromkeys(held, 1)
        attempts = Counter(f["attempt"] for f in log if f.get("type") == "started")
        assert attempts == {1: 4 + 2, 2: 4}, "the four interrupted jobs ran a second time, the rest once"
    finally:
        service.kill()


async def test_state_and_idempotency_survive_a_restart(durable: Service, site: LocalSite) -> None:
    url = site.page("/kept", '<a href="/k">k</a>')
    async with durable.connect("request_id=kept") as ws:
        assert (await durable.put("kept", url))[0] == 201
        await receive_until(ws, lambda fs: bool(terminal_for(fs, {"kept"})))
    status, before = await durable.call("GET", "/urls/kept")
    assert status == 200 and before["state"] == "done"

    await durable.restart()

    assert await durable.call("GET", "/urls/kept") == (200, before)
    status, again = await durable.put("kept", url)
    assert status == 200 and again["state"] == "done" and again["links"] == [site.url("/k")]
    status, conflict = await durable.put("kept", site.url("/elsewhere"))
    assert status == 409 and conflict["error"]["code"] == "conflict"
    assert (await durable.call("GET", "/urls/never"))[0] == 404
    # The repeat started nothing: the only events of 'kept' are still its first three.
    async with durable.connect("since=0&request_id=kept&request_id=marker") as ws:
        await durable.put("marker", site.page("/marker", "<p>m</p>"))
        frames = await receive_until(ws, lambda fs: bool(terminal_for(fs, {"marker"})))
    assert [f["type"] for f in frames if f["request_id"] == "kept"] == ["accepted", "started", "result"]


async def test_a_second_service_on_the_same_database_is_refused_and_takes_no_job(tmp_path: Path, gate: Gate) -> None:
    """A second process used to start on the file: its recovery took back the jobs the first was running, fetched
    them again, and its events never reached the first one's clients."""
    first = serve(tmp_path, "--workers", "2")
    await first.start()
    try:
        held = {f"h{n}": gate.page(f"/h{n}", f'<a href="/z{n}">z</a>') for n in range(2)}
        async with first.connect() as ws:
            await put_all(first, held)
            before = await receive_until(ws, lambda fs: started(fs, set(held)) == set(held))
            command = [*serve(tmp_path).command(), "--port", "0"]
            second = await asyncio.to_thread(
                subprocess.run, command, capture_output=True, text=True, timeout=30, check=False
            )
            assert second.returncode == 1, second.stderr
            [line] = second.stderr.splitlines()
            assert line.startswith("linkcast: store_unavailable: ") and "in use by another linkcast process" in line
            assert f"pid {first.process.pid}" in line  # type: ignore[union-attr]
            gate.opened.set()
            frames = before + await receive_until(ws, lambda fs: set(terminal_for(fs, set(held))) == set(held))
        assert Counter(f["request_id"] for f in frames if f["type"] == "started") == dict.fromkeys(held, 1)
    finally:
        first.kill()
    await first.start()  # the lock went with the process, killed: the next one owns the file
    first.kill()
