"""A full disk under SQLite: submissions are refused with 507 store_full, /healthz says degraded, a job whose outcome
could not be stored is never stuck 'running', and once space returns it ends in exactly one terminal event."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import aiohttp

from tests.durability.conftest import Gate
from tests.support.disk import fill, small_disk
from tests.support.service import Service, receive_until, terminal_for

LEASE_SECONDS = 1.0


async def healthz(service: Service) -> tuple[int, dict[str, object]]:
    status, body = await service.call("GET", "/healthz")
    return status, body


async def test_a_full_disk_is_a_clear_refusal_and_no_job_is_lost(tmp_path: Path, gate: Gate) -> None:
    with small_disk(tmp_path / "disk") as disk:
        service = Service(
            "--allow-private-networks", "--workers", "1", "--job-visibility-timeout", str(LEASE_SECONDS),
            store=f"sqlite:///{disk}/linkcast.db", log_path=tmp_path / "serve.log",
        )  # fmt: skip
        await service.start()
        try:
            held = gate.page("/held", '<a href="/found">found</a>')
            assert (await service.put("held", held))[0] == 201
            async with asyncio.timeout(30):
                while gate.waiting == 0:  # the worker is fetching the page
                    await asyncio.sleep(0.02)
            filler = fill(disk)
            await asyncio.sleep(2 * LEASE_SECONDS)  # still fetching: its lease cannot be renewed, round after round
            gate.opened.set()  # the page answers now: its result cannot be stored, nor the job given back

            async with asyncio.timeout(30):
                while (answer := await service.put("refused", gate.site.url("/other")))[0] != 507:
                    await asyncio.sleep(0.1)
            status, body = answer
            assert body["error"]["code"] == "store_full", body
            status, health = await healthz(service)
            assert status == 503 and health["status"] == "degraded", health
            assert health["error"]["code"] == "store_full"  # type: ignore[index]

            filler.unlink()
            async with service.connect("since=0&request_id=held") as ws:
                frames = await receive_until(ws, lambda fs: "held" in terminal_for(fs, {"held"}), 60)
            assert terminal_for(frames, {"held"})["held"]["links"] == [gate.site.url("/found")]
            async with asyncio.timeout(30):
                while (await healthz(service))[0] != 200:
                    await asyncio.sleep(0.1)
            status, record = await service.call("GET", "/urls/held")
            assert record["state"] == "done" and record["attempts"] >= 2, record
            async with service.connect("since=0&request_id=held") as replay:
                history = await receive_until(replay, lambda fs: any(f.get("type") == "result" for f in fs), 30)
            assert [f["type"] for f in history].count("result") == 1
        finally:
            service.stop()
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert "store_full" in log  # the operator is told, in one line
    assert log.count("renewing job leases failed") == 1, log[-3000:]  # not each third of a lease


async def test_a_submission_during_a_full_disk_leaves_nothing_half_done(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        service = Service(store=f"sqlite:///{disk}/linkcast.db", log_path=tmp_path / "serve.log")
        await service.start()
        try:
            filler = fill(disk)
            async with aiohttp.ClientSession() as session:
                status, body = await service.put("a", "https://example.com/", session=session)
                assert (status, body["error"]["code"]) == (507, "store_full")
                batch = {"urls": ["https://example.com/1", "https://example.com/2"]}
                status, body = await service.call("POST", "/urls", json=batch, session=session)  # one transaction
                assert (status, body["error"]["code"]) == (507, "store_full")
                filler.unlink()
                status, _ = await service.put("a", "https://example.com/", session=session)
                assert status == 201  # nothing of the refused submission was kept
        finally:
            service.stop()


async def test_an_idle_service_says_degraded_while_the_disk_is_full_and_ok_once_it_is_not(tmp_path: Path) -> None:
    """Idle workers claim nothing every second, a transaction that changes nothing and commits on a full disk: it
    cleared the failure, and /healthz said ok within a second while every submission was still refused with 507."""
    with small_disk(tmp_path / "disk") as disk:
        service = Service(store=f"sqlite:///{disk}/linkcast.db", log_path=tmp_path / "serve.log")
        await service.start()
        try:
            filler = fill(disk)
            assert (await service.put("a", "https://example.com/"))[0] == 507
            loop = asyncio.get_running_loop()
            watched_until = loop.time() + 3.0  # three rounds of the idle workers' claims
            while loop.time() < watched_until:
                status, health = await healthz(service)
                assert (status, health["status"]) == (503, "degraded"), health
                await asyncio.sleep(0.2)
            assert (await service.put("a", "https://example.com/"))[0] == 507
            filler.unlink()
            async with asyncio.timeout(10):  # nothing submitted: /healthz finds out by itself that writes work again
                while (await healthz(service))[0] != 200:
                    await asyncio.sleep(0.1)
            assert (await service.put("a", "https://example.com/"))[0] == 201
        finally:
            service.stop()


async def test_an_opml_import_during_a_full_disk_is_refused_as_a_whole(tmp_path: Path) -> None:
    """It answered 200, with store_full as the error of each of its feeds (up to 10,000 writes refused one by one)."""
    opml = '<opml version="2.0"><body>{}</body></opml>'.format(
        "".join(f'<outline type="rss" xmlUrl="https://example.com/{n}.xml"/>' for n in range(3))
    ).encode()
    with small_disk(tmp_path / "disk") as disk:
        service = Service(store=f"sqlite:///{disk}/linkcast.db", log_path=tmp_path / "serve.log")
        await service.start()
        try:
            filler = fill(disk)
            status, body = await service.call("POST", "/feeds/import", data=opml)
            assert (status, body["error"]["code"]) == (507, "store_full"), body
            filler.unlink()
            status, body = await service.call("POST", "/feeds/import", data=opml)
            assert status == 200 and [r["status"] for r in body["results"]] == ["accepted"] * 3, body
        finally:
            service.stop()


async def test_a_service_started_on_a_full_disk_says_so_in_one_line(tmp_path: Path) -> None:
    """SQLite reports "disk I/O error" when its shared-memory index cannot grow: the service said store_unavailable."""
    with small_disk(tmp_path / "disk") as disk:
        service = Service(store=f"sqlite:///{disk}/linkcast.db")
        await service.start()
        assert (await service.put("a", "https://example.com/"))[0] == 201
        service.stop()
        fill(disk)
        started = subprocess.run(service.command(), capture_output=True, timeout=60, text=True)
    assert started.returncode != 0
    assert "Traceback" not in started.stderr, started.stderr
    assert "store_full" in started.stderr and "no room left" in started.stderr, started.stderr
