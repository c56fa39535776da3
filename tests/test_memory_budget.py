"""The one budget of bytes behind answers, replays and webhook payloads: shares, their cap, waiting for one."""

from __future__ import annotations

import asyncio

from linkcast.memory_budget import MemoryBudget


async def test_a_share_is_had_while_bytes_are_free_and_given_back_once() -> None:
    budget = MemoryBudget(100)
    first = budget.try_take(60)
    assert first is not None and budget.free == 40
    assert budget.try_take(50) is None and budget.free == 40
    first.give_back()
    first.give_back()  # a second call changes nothing
    assert budget.free == 100


async def test_a_share_larger_than_the_budget_is_the_whole_budget_once_nothing_else_holds_any() -> None:
    budget = MemoryBudget(100)
    small = budget.try_take(1)
    assert small is not None
    assert budget.try_take(1000) is None, "it waits for everything else to be given back"
    small.give_back()
    whole = budget.try_take(1000)
    assert whole is not None and whole.size == 100 and budget.free == 0


async def test_take_waits_for_a_share_to_be_given_back() -> None:
    budget = MemoryBudget(100)
    async with budget.held(80):
        waiting = asyncio.create_task(budget.take(50))
        await asyncio.sleep(0.05)
        assert not waiting.done()
    share = await asyncio.wait_for(waiting, 5)
    assert share.size == 50 and budget.free == 50
