"""Single requests first: background work (crawl pages, feed polls) steps aside inside a process while a single
request is on its way through it.

The store's fair scheduler decides which job a free worker takes next, and a single URL of another host is taken at
once. But a crawl at full speed saturates the process it runs in: the event loop and the SQLite writer each have a
queue of the crawl's work, and every step of the request (stored, claimed, fetched, parsed, stored again, sent) waits
behind it, which made a single request four to five times slower during a crawl than on an idle service. So a
request accepted here (``expect``), or being processed by a worker here (``serving``), makes background jobs pass
their steps (``step``) one at a time, ``BUSY_STEP_SPACING`` apart, until no request is on its way: the request's
own steps then wait for at most one of a crawl's between two of theirs.

Bounded both ways: under a stream of single requests background work slows down (to some 200 steps a second, a
crawl's page being about three) and never stops, a step waiting ``STEP_WAIT_SECONDS`` at most; and a request
accepted here but not taken by a worker of this process (a worker elsewhere, or its host's politeness making it
wait) holds background work back for ``EXPECT_SECONDS`` at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

from linkcast.store.urgency import urgent

# While a single request is on its way, the time between two background steps.
BUSY_STEP_SPACING = 0.005
# The longest one background step waits for single requests to pass.
STEP_WAIT_SECONDS = 0.25
# How long a request accepted here counts as on its way before a worker of this process takes it.
EXPECT_SECONDS = 1.0
# Accepted requests remembered at most (a batch of 1,000 is one expectation per URL); past it the oldest go first.
MAX_EXPECTED = 10_000


class Foreground:
    """What single requests are on their way through this process, and the wait background steps take for them."""

    def __init__(
        self,
        step_wait: float = STEP_WAIT_SECONDS,
        expect_seconds: float = EXPECT_SECONDS,
        spacing: float = BUSY_STEP_SPACING,
    ) -> None:
        self.step_wait = step_wait
        self.expect_seconds = expect_seconds
        self.spacing = spacing
        self._expected: dict[str, float] = {}  # request id -> when it stops counting (monotonic), oldest first
        self._serving = 0
        self._next_turn = 0.0  # while busy, when the next background step may pass (monotonic)
        self._quiet = asyncio.Event()
        self._quiet.set()

    @contextlib.contextmanager
    def accepting(self, *request_ids: str) -> Iterator[None]:
        """Single requests being accepted here (stored in this context): from now on each counts as on its way until
        a worker takes it, or for a while, and their writes go ahead of background ones."""
        for request_id in request_ids:
            self.expect(request_id)
        with urgent():
            yield

    def expect(self, request_id: str) -> None:
        """A single request is on its way here: it counts so until a worker takes it, or for a while."""
        self._expected.pop(request_id, None)  # re-inserted last: the dict stays in deadline order
        self._expected[request_id] = time.monotonic() + self.expect_seconds
        while len(self._expected) > MAX_EXPECTED:
            del self._expected[next(iter(self._expected))]
        self._quiet.clear()

    @contextlib.contextmanager
    def serving(self, request_id: str) -> Iterator[None]:
        """A worker of this process processes the single request ``request_id``."""
        self._expected.pop(request_id, None)
        self._serving += 1
        self._quiet.clear()
        try:
            with urgent():  # its writes go ahead of background ones too
                yield
        finally:
            self._serving -= 1
            self._settle()

    def is_busy(self) -> bool:
        """Whether a single request is on its way through this process."""
        return self._settle()

    async def step(self) -> None:
        """Before a background step: while single requests are on their way, wait for this step's turn (one at a
        time, ``spacing`` apart) or for them to pass, ``step_wait`` at most."""
        if self._quiet.is_set() or not self._settle():
            return
        now = time.monotonic()
        turn = max(now, self._next_turn)
        self._next_turn = turn + self.spacing
        deadline = min(turn, now + self.step_wait)
        while (remaining := deadline - time.monotonic()) > 0 and self._settle():
            if not self._serving:  # only expectations left: look again when the oldest one lapses
                remaining = min(remaining, max(0.001, next(iter(self._expected.values())) - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._quiet.wait(), remaining)

    def _settle(self) -> bool:
        """Drop lapsed expectations; True if a single request is still on its way (and ``_quiet`` says so)."""
        now = time.monotonic()
        while self._expected and next(iter(self._expected.values())) <= now:
            del self._expected[next(iter(self._expected))]
        busy = bool(self._serving or self._expected)
        if not busy:
            self._quiet.set()
            self._next_turn = 0.0
        return busy
