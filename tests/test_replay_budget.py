"""One process's budget of WebSocket replay memory: a page's share at a time, given back whatever happens."""

from __future__ import annotations

import asyncio

import pytest

from linkcast.replay_budget import REPLAY_PAGE_BYTES, ReplayBudget, ReplayBusy

MIB = 1024 * 1024


async def test_replays_take_a_page_share_each_and_wait_for_one_when_the_budget_is_held() -> None:
    budget = ReplayBudget(total_bytes=0, max_result_bytes=MIB)  # room for one page at a time, never less
    assert budget.bytes.total == budget.page_share == REPLAY_PAGE_BYTES + MIB + 64 * 1024
    taken, release = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with budget.page():
            taken.set()
            await release.wait()

    holding = asyncio.create_task(holder())
    await taken.wait()
    assert budget.bytes.free == 0
    next_page = budget.page()
    waiting = asyncio.create_task(next_page.__aenter__())
    await asyncio.sleep(0.1)
    assert not waiting.done()  # the budget is held: the next page waits for its share
    release.set()
    await asyncio.wait_for(asyncio.gather(holding, waiting), 5.0)
    assert budget.bytes.free == 0  # the waiter holds it now
    await next_page.__aexit__(None, None, None)
    assert budget.bytes.free == budget.bytes.total


async def test_a_replay_that_waits_too_long_for_its_share_is_told_to_come_back_later() -> None:
    budget = ReplayBudget(total_bytes=0, max_result_bytes=MIB, wait=0.2)
    async with budget.page():
        with pytest.raises(ReplayBusy) as busy:
            async with budget.page():
                pass
    assert busy.value.code == "replay_busy"
    assert budget.bytes.free == budget.bytes.total


async def test_a_share_comes_back_when_its_replay_fails_or_is_cancelled() -> None:
    budget = ReplayBudget(total_bytes=10 * MIB, max_result_bytes=MIB)
    with pytest.raises(OSError):
        async with budget.page():
            raise OSError("the client went away")
    assert budget.bytes.free == budget.bytes.total

    async def sending_forever() -> None:
        async with budget.page():
            await asyncio.sleep(3600)

    sender = asyncio.create_task(sending_forever())
    await asyncio.sleep(0.05)
    assert budget.bytes.free < budget.bytes.total
    sender.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sender
    assert budget.bytes.free == budget.bytes.total
    async with asyncio.timeout(5), budget.page():  # and the budget serves the next one
        pass
