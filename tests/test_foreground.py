"""Single requests first: background steps wait while one is on its way through the process, within bounds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

from linkcast.foreground import MAX_EXPECTED, Foreground
from linkcast.store.urgency import is_urgent


async def took(step: Awaitable[None]) -> float:
    began = time.monotonic()
    await step
    return time.monotonic() - began


async def test_a_background_step_goes_at_once_when_no_request_is_on_its_way() -> None:
    foreground = Foreground(step_wait=5.0)
    assert not foreground.is_busy()
    assert await took(foreground.step()) < 1.0


async def test_while_a_request_is_served_background_steps_pass_one_at_a_time_or_when_it_ends() -> None:
    foreground = Foreground(step_wait=30.0, spacing=10.0)
    with foreground.serving("r"):
        assert foreground.is_busy() and is_urgent()  # its writes go ahead too
        assert await asyncio.wait_for(took(foreground.step()), 5.0) < 1.0  # the first step's turn is now
        second = asyncio.create_task(foreground.step())  # the next one's in 10 s
        await asyncio.sleep(0.2)
        assert not second.done()
    assert not is_urgent()
    await asyncio.wait_for(second, 5.0)  # the request ended: it goes at once
    assert not foreground.is_busy()


async def test_a_background_step_waits_step_wait_at_most() -> None:
    """A stream of single requests slows background work down; it never stops it."""
    foreground = Foreground(step_wait=0.3, spacing=10.0)
    with foreground.serving("r"):
        await foreground.step()
        assert 0.25 < await asyncio.wait_for(took(foreground.step()), 5.0) < 3.0


async def test_an_accepted_request_counts_until_a_worker_here_takes_it_or_for_expect_seconds() -> None:
    foreground = Foreground(step_wait=30.0, expect_seconds=0.3, spacing=10.0)
    foreground.expect("taken")
    assert foreground.is_busy()
    with foreground.serving("taken"):  # taken here: it counts while served, its expectation gone
        pass
    assert not foreground.is_busy()
    foreground.expect("elsewhere")  # never taken here (a worker elsewhere): it lapses
    await foreground.step()
    assert 0.2 < await asyncio.wait_for(took(foreground.step()), 5.0) < 3.0
    assert not foreground.is_busy()


async def test_expectations_are_bounded() -> None:
    foreground = Foreground(expect_seconds=60.0)
    for n in range(MAX_EXPECTED + 50):
        foreground.expect(f"r{n}")
    assert len(foreground._expected) == MAX_EXPECTED
    assert "r0" not in foreground._expected and f"r{MAX_EXPECTED + 49}" in foreground._expected


async def test_requests_served_at_once_all_end_before_background_work_goes_on() -> None:
    foreground = Foreground(step_wait=30.0, spacing=10.0)
    ends = {name: asyncio.Event() for name in ("a", "b")}

    async def serve(name: str) -> None:
        with foreground.serving(name):
            await ends[name].wait()

    requests = [asyncio.create_task(serve(name)) for name in ends]
    await asyncio.sleep(0)
    await foreground.step()
    step = asyncio.create_task(foreground.step())
    ends["a"].set()
    await asyncio.sleep(0.1)
    assert not step.done()
    ends["b"].set()
    await asyncio.wait_for(asyncio.gather(step, *requests), 5.0)
