"""Fan-out of the event log to this process's WebSocket clients, each with its own bounded queue and filter.

One task tails the store; every event is delivered to every matching subscriber without blocking: written straight
to the client's socket when it keeps up, else queued; a subscriber whose queue is full (in events, or in bytes: a
result may hold 8 MiB of links) is marked too slow and dropped, so one stalled client never slows the others down
nor makes the server buffer without bound. Every subscriber gets the same ``Frame`` of an event, so it is framed
once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Collection

from linkcast.core.events import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_TOO_SLOW,
    CLOSE_TRY_AGAIN_LATER,
    Event,
    history_truncated_frame,
)
from linkcast.frames import Frame, wire_batches
from linkcast.logs import RepeatedProblem
from linkcast.replay_budget import REPLAY_PAGE_BYTES, ReplayBudget
from linkcast.store.base import Store
from linkcast.store.listing import cut_short

log = logging.getLogger(__name__)

REPLAY_PAGE = 1000
TOO_SLOW_REASON = "too slow: the client stopped reading; reconnect with ?since=<last id seen>"
FAILED_REASON = "delivery to this client failed; reconnect with ?since=<last id seen>"
RESET_REASON = "the event log was reset (its store lost its data): reconnect; ids from before the reset are gone"
# Seconds before a tail that died is started again (it should never die: this is the last line of defence).
TAIL_RESTART_DELAY = 1.0
# Seconds between two looks for a reset of the log (and the longest a read of the tail waits for new events).
RESET_CHECK_SECONDS = 1.0
# Seconds ``stop`` waits for the tail to end once cancelled.
STOP_TIMEOUT = 2.0


# Writes one client's frames to its socket now; False when the socket cannot take them at once (its buffer is full
# or it is closing): they are queued instead, and the client's sender writes them when the socket drains.
DirectWrite = Callable[[bytes], bool]


class Subscription:
    """One client's view of the log: a filter by request id, a direct write to its socket, and a bounded queue.

    Live frames go straight to the socket (``direct``) while nothing waits in the queue before them, so that a client
    keeping up costs one write per batch of events and no task switch; the queue holds what the socket could not take
    at once, for the client's sender task, and its overflow marks the client too slow.

    The queue is bounded in bytes as well as in events: an event may be a result of 8 MiB of links, and a client that
    stopped reading kept up to ``queue_size`` of them alive (1,024: gigabytes, held for as long as it stayed
    connected, however few events came). Its first event is taken whatever its size.
    """

    def __init__(self, request_ids: Collection[str] | None, queue_size: int, skip_until: int, queue_bytes: int) -> None:
        self.request_ids = frozenset(request_ids) if request_ids else None
        self.queue: asyncio.Queue[Frame] = asyncio.Queue(queue_size)
        self.queue_bytes = queue_bytes
        self.queued_bytes = 0  # of the frames in ``queue``, as characters of their JSON
        self.dropped = asyncio.Event()  # set when the hub gives up on this client: close it with ``close_code``
        self.close_code = 0
        self.close_reason = ""
        self.live_from = 0  # events after this id arrive live; those up to it come from replay
        self.skip_until = skip_until  # live events up to this id were already seen by the client (its ``since``)
        self.direct: DirectWrite | None = None  # set by the sender once it has caught up (replay done)
        self.sending = False  # the sender holds frames taken from the queue and not yet written

    @property
    def too_slow(self) -> bool:
        return self.close_code == CLOSE_TOO_SLOW

    def drop(self, code: int, reason: str) -> None:
        """Give up on this client: its handler closes the connection with ``code``; the first reason given stays."""
        if not self.dropped.is_set():
            self.close_code, self.close_reason = code, reason
            self.dropped.set()

    def discard_queued(self) -> None:
        """Drop what was never sent, so that a client dropped as too slow holds no events while it is closed."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queued_bytes = 0

    async def take(self, limit: int) -> list[Frame]:
        """The frames queued next, in order: at least one (waiting for it), at most ``limit``."""
        batch = [await self.queue.get()]
        while len(batch) < limit and not self.queue.empty():
            batch.append(self.queue.get_nowait())
        self.queued_bytes -= sum(len(frame.text) for frame in batch)
        return batch

    def offer(self, frames: list[Frame]) -> None:
        """Deliver frames in id order: written now if nothing is ahead of them, else queued behind what is."""
        if frames[0].event_id <= self.skip_until:
            frames = [frame for frame in frames if frame.event_id > self.skip_until]
            if not frames:
                return
        if self.direct is not None and not self.sending and self.queue.empty():
            for start, wire in wire_batches(frames):
                if not self.direct(wire):
                    frames = frames[start:]  # the rest waits for the sender, in order
                    break
            else:
                return
        for frame in frames:
            size = len(frame.text)
            if self.queue.full() or (self.queued_bytes + size > self.queue_bytes and not self.queue.empty()):
                self.drop(CLOSE_TOO_SLOW, TOO_SLOW_REASON)
                return
            self.queue.put_nowait(frame)
            self.queued_bytes += size


class Hub:
    def __init__(self, store: Store, queue_size: int, replay_budget: ReplayBudget, queue_bytes: int) -> None:
        self.store = store
        self.queue_size = queue_size
        self.queue_bytes = queue_bytes
        self.replay_budget = replay_budget  # bytes of replay held at once by all this process's clients
        self.position = 0  # id of the last event delivered to subscribers
        self._epoch = ""  # the log's (``Store.log_epoch``) whose ids ``position`` is in
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._delivery_failed = RepeatedProblem(log)

    @property
    def client_count(self) -> int:
        return len(self._subscribers)

    async def start(self) -> None:
        self._epoch = await self.store.log_epoch()
        self.position = await self.store.last_event_id()
        self._stopping = False
        self._start_tail()

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            # A blocking read of the store may not end at once when cancelled (redis-py's under uvloop has been seen
            # to restart its read): shutting down must not wait on it.
            await asyncio.wait({self._task}, timeout=STOP_TIMEOUT)

    def _start_tail(self) -> None:
        self._task = asyncio.create_task(self._tail(), name="linkcast-hub")
        self._task.add_done_callback(self._restart_if_died)

    def _restart_if_died(self, task: asyncio.Task[None]) -> None:
        """The tail must run as long as the hub: if it ever ends otherwise, say so loudly and start it again."""
        if self._stopping or task.cancelled():
            return
        log.error("the hub's tail of the event log died; restarting it", exc_info=task.exception())
        asyncio.get_running_loop().call_later(TAIL_RESTART_DELAY, self._restart_unless_stopping)

    def _restart_unless_stopping(self) -> None:
        if not self._stopping:
            self._start_tail()

    async def _tail(self) -> None:
        read_failed = RepeatedProblem(log)
        loop = asyncio.get_running_loop()
        next_check = loop.time() + RESET_CHECK_SECONDS
        while not self._stopping:
            try:
                events = await self.store.wait_events(self.position, timeout=RESET_CHECK_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self._stopping:
                    return
                read_failed.report("reading the event log failed; retrying", error)
                await asyncio.sleep(1.0)
                continue
            fresh = [event for event in events if event.id > self.position]
            if fresh:
                self.position = fresh[-1].id
                self._deliver(fresh)
            # Looked for while events flow too: new work on a reset log numbers its events past the position soon.
            if not events or loop.time() >= next_check:
                next_check = loop.time() + RESET_CHECK_SECONDS
                with contextlib.suppress(Exception):  # the store failed: the next read says so, and tries again
                    await self._start_over_if_reset()

    async def _start_over_if_reset(self) -> None:
        """A log whose epoch changed, or whose newest id is behind the hub's position, was reset (a Redis restarted
        without its data): its new events take ids the hub has delivered already, so the tail would wait in silence
        until they passed its position, and never deliver those. It starts over at the log's end, and its clients are
        closed: each reconnects, and one that resumes with an id from before the reset is refused (``since_ahead``)
        while the new log is behind it, which tells it what happened. The epoch is what tells a reset once new work
        has numbered the new log's events past the position (a quiet log behind it was all that was noticed)."""
        epoch = await self.store.log_epoch()
        newest = await self.store.last_event_id()
        if epoch == self._epoch and newest >= self.position:
            return
        self._epoch = epoch
        log.warning(
            "the event log was reset: its newest event is %d, this process had delivered up to %d of the log before; "
            "its WebSocket clients are closed to start over", newest, self.position,
        )  # fmt: skip
        self.position = newest
        for subscriber in list(self._subscribers):
            subscriber.drop(CLOSE_TRY_AGAIN_LATER, RESET_REASON)

    def _deliver(self, events: list[Event]) -> None:
        """Every event of the batch to every subscriber that wants it, each as one ``Frame`` shared by all.

        A subscriber whose delivery fails is dropped alone (its connection is closed with 1011); the others go on.
        """
        frames = [Frame(event.id, event.json) for event in events]
        for subscriber in list(self._subscribers):
            if subscriber.dropped.is_set():
                continue
            try:
                if subscriber.request_ids is None:
                    subscriber.offer(frames)
                    continue
                wanted = [
                    frame
                    for frame, event in zip(frames, events, strict=True)
                    if event.request_id in subscriber.request_ids
                ]
                if wanted:
                    subscriber.offer(wanted)
            except Exception as error:
                self._delivery_failed.report("delivering to a WebSocket client failed; dropping that client", error)
                subscriber.drop(CLOSE_INTERNAL_ERROR, FAILED_REASON)

    @contextlib.asynccontextmanager
    async def subscribe(
        self, request_ids: Collection[str] | None = None, since: int | None = None
    ) -> AsyncIterator[Subscription]:
        subscription = Subscription(request_ids, self.queue_size, skip_until=since or 0, queue_bytes=self.queue_bytes)
        subscription.live_from = self.position
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)
            subscription.discard_queued()

    async def replay(self, subscription: Subscription, since: int) -> AsyncIterator[list[Frame]]:
        """Frames retained after ``since`` up to where live delivery to ``subscription`` began, a page at a time
        (each page read when the caller asks for it: ``replay_budget`` gives the caller a page's share of memory first).

        The subscription must be registered first: events after ``until`` are then already in its queue, so the
        switch from history to live has no gap and no duplicate.
        """
        until = subscription.live_from
        first = await self.store.first_event_id()
        if since + 1 < first:
            yield [Frame(0, history_truncated_frame(first))]
        cursor = since
        while cursor < until:
            page = await self.store.events_after(
                cursor, subscription.request_ids, REPLAY_PAGE, until, max_bytes=REPLAY_PAGE_BYTES
            )
            more = cut_short(page, REPLAY_PAGE, REPLAY_PAGE_BYTES)  # else all there is
            cursor = page[-1].id if page else cursor
            # Nothing here keeps the page while the caller sends it: once written, its frames live in the socket's
            # buffer alone, once, as the replay budget counts them (not also as text and frames here and there).
            yield _frames_of(page)
            if not more:
                break


def _frames_of(events: list[Event]) -> list[Frame]:
    """The frames of ``events``, which is emptied: the caller lets go of the events as it takes their frames."""
    frames = [Frame(event.id, event.json) for event in events]
    events.clear()
    return frames
