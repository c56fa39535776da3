"""Background pruning by ``--retain-events`` and ``--retain-days``: events and finished request records.

The pruning task runs as the server starts, then every minute; a restart is how these tests make it run now.
"""

from __future__ import annotations

from pathlib import Path

from tests.durability.conftest import ids_of, serve
from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite


async def finish_one_by_one(service: Service, site: LocalSite, count: int) -> list[int]:
    """Submit ``count`` requests, each once the previous one is done, so that they finish in order; their ids."""
    ids: list[int] = []
    for n in range(count):
        request_id = f"r{n}"
        async with service.connect(f"request_id={request_id}&since={ids[-1] if ids else 0}") as ws:
            assert (await service.put(request_id, site.page(f"/{request_id}", f'<a href="/{n}">x</a>')))[0] == 201
            ids += ids_of(await receive_until(ws, lambda fs, rid=request_id: bool(terminal_for(fs, {rid}))))
    return ids


async def test_retain_events_keeps_the_newest_events_and_finished_requests(tmp_path: Path, site: LocalSite) -> None:
    service = serve(tmp_path, "--retain-events", "4")
    await service.start()
    try:
        ids = await finish_one_by_one(service, site, 5)
        assert len(ids) == 15
        await service.restart()
        async with service.connect("since=0") as ws:
            frames = await receive_until(ws, lambda fs: len(ids_of(fs)) == 4)
        assert frames[0]["type"] == "history_truncated" and frames[0]["first_available_id"] == ids[-4]
        assert ids_of(frames) == ids[-4:]
        assert [(await service.call("GET", f"/urls/r{n}"))[0] for n in range(5)] == [404, 200, 200, 200, 200]
    finally:
        service.kill()


async def test_retain_days_drops_what_is_older(tmp_path: Path, site: LocalSite) -> None:
    # 1e-6 days is 86 ms: everything finished before the restart is older than that when the new server prunes.
    service = serve(tmp_path, "--retain-days", "0.000001")
    await service.start()
    try:
        ids = await finish_one_by_one(service, site, 2)
        await service.restart()
        async with service.connect("since=0") as ws:
            [truncated] = await receive_until(ws, lambda fs: len(fs) == 1)
            assert truncated["type"] == "history_truncated" and truncated["first_available_id"] == ids[-1] + 1
            # New events still get new ids, after the pruned ones.
            await service.put("fresh", site.page("/fresh", "<p>f</p>"))
            fresh = await receive_until(ws, lambda fs: bool(terminal_for(fs, {"fresh"})))
        assert min(ids_of(fresh)) == ids[-1] + 1
        assert [(await service.call("GET", f"/urls/r{n}"))[0] for n in range(2)] == [404, 404]
    finally:
        service.kill()
