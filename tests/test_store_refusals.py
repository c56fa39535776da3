"""A job whose outcome the store refuses goes back for later, its pause doubling up to the lease, for as long as the
store refuses."""

from __future__ import annotations

from linkcast.settings import Settings
from linkcast.store.memory import MemoryStore
from linkcast.store_refusals import StoreRefusals


async def test_a_job_refused_more_than_a_thousand_times_still_waits_the_longest_pause() -> None:
    """Refused once a minute (the lease), a job is refused 1,025 times in 17 hours of a full store: the doubling
    must stop at the longest pause, not overflow a float (an OverflowError ended the worker's task)."""
    store = MemoryStore(Settings(store="memory://"))
    await store.open()
    try:
        await store.submit("r", "https://a.example/")
        job = await store.next_job("w", timeout=5.0)
        assert job is not None
        refusals = StoreRefusals(store)
        for _ in range(1100):  # the same job each time (given back by the first; the others find it not held)
            await refusals.give_back_for_later(job)
        assert await store.queue_depth() == 1
    finally:
        await store.close()
