"""A job whose outcome the store refused (full, unreachable) goes back to its queue for later, not at once.

Given back at once, another worker took it straight away and did it again: a feed polled five times in a second, its
outcome refused each time, and the fifth hand-out ended it in ``worker_lost`` (a feed's error, its next poll a day
later; a crawl's page failed, the pages below it never crawled). Given back for later, it waits 1 s, then twice as
long at each refusal of the same job, up to the lease (what a job waits whose release was refused too), and the
hand-outs do not count as attempts but for the first (``Store.release``): it runs again once the store takes writes,
however long that takes.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from linkcast.core.errors import StoreFull, StoreUnavailable
from linkcast.core.events import Job
from linkcast.store.base import Store

FIRST_PAUSE = 1.0
# Doublings of the pause at most (2^64 s is past any lease).
DOUBLINGS = 64
# Jobs whose refusals are counted at once, per process (the oldest counts go first: such a job starts from 1 s again).
REMEMBERED = 10_000

JobKey = tuple[str, str, str]


def refused_by_the_store(error: BaseException) -> bool:
    """Whether ``error`` says that the store could not take a write now (and may later), not that the job failed."""
    return isinstance(error, StoreFull | StoreUnavailable)


async def give_back(store: Store, job: Job, retry_at: float | None = None) -> None:
    """``store.release(job, retry_at)`` if the store lets us; if not, the job is forgotten here and its lease lapses
    (it is handed out again once the store is back)."""
    try:
        await store.release(job, retry_at=retry_at)
    except Exception:
        store.forget(job)


class StoreRefusals:
    """How many times in a row the store refused each job's outcome, and when each may run again."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.longest = max(FIRST_PAUSE, store.settings.job_visibility_timeout)
        self._refused: OrderedDict[JobKey, int] = OrderedDict()

    async def give_back_for_later(self, job: Job) -> None:
        """``job`` back to its queue, due after its pause; if the store refuses that too, its lease lapses."""
        key = _key(job)
        refusals = self._refused.pop(key, 0) + 1
        self._refused[key] = refusals
        while len(self._refused) > REMEMBERED:
            self._refused.popitem(last=False)
        # The exponent bounded: 2.0 ** 1024 overflows a float, a job refused once a lease for 17 hours.
        pause = min(self.longest, FIRST_PAUSE * 2.0 ** min(refusals - 1, DOUBLINGS))
        await give_back(self.store, job, retry_at=time.time() + pause)

    def stored(self, job: Job) -> None:
        """``job``'s outcome was stored: a later refusal of it starts from the first pause again."""
        if self._refused:
            self._refused.pop(_key(job), None)


def _key(job: Job) -> JobKey:
    return job.kind, job.request_id, job.url
