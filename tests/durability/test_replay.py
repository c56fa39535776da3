"""``/scraped_urls?since=``: the history after an id, then live, with no gap and no duplicate across the switch."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import websockets

from tests.durability.conftest import ids_of, put_all, serve
from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite


def pages(site: LocalSite, prefix: str, count: int) -> dict[str, str]:
    return {f"{prefix}{n}": site.page(f"/{prefix}{n}", f'<a href="/{prefix}-next{n}">n</a>') for n in range(count)}


async def test_replay_then_live_has_no_gap_and_no_duplicate(durable: Service, site: LocalSite) -> None:
    history = pages(site, "old", 400)  # 1,200 events: more than one replay page
    async with durable.connect() as ws:
        assert set((await put_all(durable, history)).values()) == {201}
        await receive_until(ws, lambda fs: len(terminal_for(fs, set(history))) == len(history))
    live = pages(site, "new", 150)
    everything = set(history) | set(live)
    # Publish while the replay is being sent: the switch from history to live happens under load.
    publishing = asyncio.create_task(put_all(durable, live, concurrency=8))
    async with durable.connect("since=0") as ws:
        frames = await receive_until(ws, lambda fs: len(terminal_for(fs, everything)) == len(everything), 60)
    assert set((await publishing).values()) == {201}
    ids = ids_of(frames)
    assert ids == list(range(1, len(ids) + 1)), "every event once, in order, from the first"
    assert len(ids) == 3 * len(everything)


async def test_since_skips_what_the_client_has_seen(durable: Service, site: LocalSite) -> None:
    first = pages(site, "a", 3)
    async with durable.connect() as ws:
        await put_all(durable, first)
        seen = await receive_until(ws, lambda fs: len(terminal_for(fs, set(first))) == 3)
    last_seen = max(ids_of(seen))
    second = pages(site, "b", 2)
    await put_all(durable, second)
    async with durable.connect(f"since={last_seen}") as ws:
        frames = await receive_until(ws, lambda fs: len(terminal_for(fs, set(second))) == 2)
    assert min(ids_of(frames)) == last_seen + 1
    assert {f["request_id"] for f in frames} == set(second)


async def test_since_with_a_request_filter_replays_and_streams_only_those_requests(
    durable: Service, site: LocalSite
) -> None:
    urls = pages(site, "f", 6)
    async with durable.connect() as ws:
        await put_all(durable, urls)
        await receive_until(ws, lambda fs: len(terminal_for(fs, set(urls))) == 6)
    async with durable.connect("since=0&request_id=f1&request_id=later") as ws:
        frames = await receive_until(ws, lambda fs: bool(terminal_for(fs, {"f1"})))
        await put_all(durable, pages(site, "other", 3) | pages(site, "later", 1) | {"later": site.url("/later0")})
        frames += await receive_until(ws, lambda fs: bool(terminal_for(fs, {"later"})))
    assert [(f["request_id"], f["type"]) for f in frames] == [
        (request_id, kind) for request_id in ("f1", "later") for kind in ("accepted", "started", "result")
    ]


async def test_since_older_than_the_history_starts_with_history_truncated(tmp_path: Path, site: LocalSite) -> None:
    service = serve(tmp_path, "--retain-events", "3")
    await service.start()
    try:
        urls = pages(site, "t", 4)
        async with service.connect() as ws:
            await put_all(service, urls)
            seen = await receive_until(ws, lambda fs: len(terminal_for(fs, set(urls))) == 4)
        last = max(ids_of(seen))
        await service.restart()  # pruning runs when the server starts, then in the background
        async with service.connect("since=0") as ws:
            frames = await receive_until(ws, lambda fs: len(ids_of(fs)) == 3)
        assert frames[0] == {
            "type": "history_truncated",
            "first_available_id": last - 2,
            "message": f"events before {last - 2} are no longer retained",
        }
        assert ids_of(frames) == [last - 2, last - 1, last]
    finally:
        service.kill()


@pytest.mark.parametrize("since", ["-1", "abc", "1.5", ""])
async def test_an_invalid_since_is_refused_with_a_json_400(durable: Service, since: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with durable.connect(f"since={since}"):
            pass
    response = refused.value.response
    assert response.status_code == 400
    assert b'"code":"invalid_since"' in response.body


async def test_replays_that_share_one_page_of_memory_each_get_every_event_in_order(
    tmp_path: Path, site: LocalSite
) -> None:
    """``--replay-memory-bytes``: however small, replays wait their turn for a page's share and none is stuck, short
    or out of order (here one page of memory for twelve clients replaying two pages each)."""
    service = serve(tmp_path, "--workers", "16", "--per-host-concurrency", "64", "--replay-memory-bytes", "1")
    await service.start()
    try:
        history = pages(site, "old", 400)  # 1,200 events: two replay pages
        async with service.connect() as ws:
            assert set((await put_all(service, history)).values()) == {201}
            await receive_until(ws, lambda fs: len(terminal_for(fs, set(history))) == len(history))

        async def replay() -> list[int]:
            async with service.connect("since=0") as ws:
                frames = await receive_until(ws, lambda fs: len(terminal_for(fs, set(history))) == len(history), 60)
            return ids_of(frames)

        replays = await asyncio.gather(*(replay() for _ in range(12)))
    finally:
        service.kill()
    assert all(ids == list(range(1, 3 * len(history) + 1)) for ids in replays)
