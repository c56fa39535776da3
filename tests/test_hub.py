"""The hub's delivery to one subscriber: written straight to the socket while nothing is queued before it, queued
otherwise, always in id order, filtered by request id and by the client's ``since``.

A real in-memory store feeds the hub; the socket is a recording write, so that a refusal (a full socket buffer) can
be made to happen exactly where the test needs it. The end-to-end paths over real sockets are in
``tests/web/test_stream.py`` and ``tests/web/test_frame_writer.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import orjson
import pytest
import pytest_asyncio

from linkcast.core.events import CLOSE_INTERNAL_ERROR, Event
from linkcast.frames import FRAMES_PER_WRITE, Frame
from linkcast.hub import Hub, Subscription
from linkcast.replay_budget import ReplayBudget
from linkcast.settings import Settings
from linkcast.store.memory import MemoryStore

QUEUE_SIZE = 100
QUEUE_BYTES = 64 * 1024


class Socket:
    """Records what the hub writes, and takes it only while ``accepting``; ``full_after``: the writes it takes before
    its buffer is full."""

    def __init__(self) -> None:
        self.accepting = True
        self.full_after: int | None = None
        self.writes: list[bytes] = []

    def write_now(self, data: bytes) -> bool:
        if not self.accepting:
            return False
        self.writes.append(data)
        if self.full_after is not None:
            self.full_after -= 1
            self.accepting = self.full_after > 0
        return True


def request_ids(frames: list[Frame]) -> list[str]:
    return [orjson.loads(frame.text)["request_id"] for frame in frames]


def written_ids(socket: Socket) -> list[str]:
    joined = b"".join(socket.writes)
    return [orjson.loads(text)["request_id"] for text in _texts(joined)]


def _texts(wire: bytes) -> list[bytes]:
    """Split concatenated unmasked text frames (the payloads here are short: 7-bit or 16-bit lengths)."""
    texts = []
    while wire:
        length, at = wire[1], 2
        if length == 126:
            length, at = int.from_bytes(wire[2:4], "big"), 4
        texts.append(wire[at : at + length])
        wire = wire[at + length :]
    return texts


@pytest_asyncio.fixture
async def hub() -> AsyncIterator[tuple[Hub, MemoryStore]]:
    store = MemoryStore(Settings(store="memory://"))
    await store.open()
    running = Hub(store, QUEUE_SIZE, ReplayBudget(2**28, 2**23), QUEUE_BYTES)
    await running.start()
    yield running, store
    await running.stop()
    await store.close()


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def caught_up(running: Hub) -> AsyncIterator[tuple[Subscription, Socket]]:
    """A subscriber whose sender has replayed history: the hub may write to its socket directly."""
    socket = Socket()
    async with running.subscribe() as subscription:
        subscription.direct = socket.write_now
        yield subscription, socket


async def submit(store: MemoryStore, *ids: str) -> None:
    for request_id in ids:
        await store.submit(request_id, f"https://example.com/{request_id}")


async def test_a_caught_up_client_gets_frames_written_directly_in_order(hub: tuple[Hub, MemoryStore]) -> None:
    running, store = hub
    async with caught_up(running) as (subscription, socket):
        await submit(store, "a", "b", "c")
        await until(lambda: len(written_ids(socket)) == 3)
        assert written_ids(socket) == ["a", "b", "c"]
        assert subscription.queue.empty()


async def test_what_the_socket_refuses_is_queued_and_later_frames_queue_behind_it(
    hub: tuple[Hub, MemoryStore],
) -> None:
    running, store = hub
    async with caught_up(running) as (subscription, socket):
        socket.accepting = False
        await submit(store, "a")
        await until(lambda: subscription.queue.qsize() == 1)
        socket.accepting = True  # the socket drained, but "a" still waits for the sender: "b" must not pass it
        await submit(store, "b")
        await until(lambda: subscription.queue.qsize() == 2)
        assert socket.writes == []
        assert request_ids([subscription.queue.get_nowait() for _ in range(2)]) == ["a", "b"]
        await submit(store, "c")  # nothing queued any more: straight to the socket
        await until(lambda: written_ids(socket) == ["c"])


async def test_a_burst_is_written_in_bounded_batches_and_what_the_socket_refuses_waits_in_order(
    hub: tuple[Hub, MemoryStore],
) -> None:
    running, store = hub
    ids = [f"r{n}" for n in range(FRAMES_PER_WRITE + 10)]
    async with caught_up(running) as (subscription, socket):
        socket.full_after = 1
        await submit(store, *ids)  # without yielding: the hub reads them as one batch
        await until(lambda: subscription.queue.qsize() == 10)
        assert len(socket.writes) == 1 and written_ids(socket) == ids[:FRAMES_PER_WRITE]
        assert request_ids([subscription.queue.get_nowait() for _ in range(10)]) == ids[FRAMES_PER_WRITE:]


async def test_frames_queue_while_the_sender_holds_some(hub: tuple[Hub, MemoryStore]) -> None:
    running, store = hub
    async with caught_up(running) as (subscription, socket):
        subscription.sending = True
        await submit(store, "a")
        await until(lambda: subscription.queue.qsize() == 1)
        assert socket.writes == []


async def test_a_full_queue_marks_the_client_too_slow(hub: tuple[Hub, MemoryStore]) -> None:
    running, store = hub
    async with running.subscribe() as subscription:  # no direct write: a sender still replaying
        await submit(store, *(f"r{n}" for n in range(QUEUE_SIZE + 1)))  # one more than the queue holds
        await asyncio.wait_for(subscription.dropped.wait(), 5)
        assert subscription.too_slow
        assert subscription.queue.full()


async def test_a_queue_past_its_bytes_marks_the_client_too_slow_though_one_event_of_any_size_is_taken(
    hub: tuple[Hub, MemoryStore],
) -> None:
    # A client that stopped reading kept up to --client-queue-size events alive, whatever their size: 200 results of
    # 1 MB each grew the server by 240 MB (1,024 of 8 MiB: gigabytes), for as long as it stayed connected.
    running, store = hub
    running.queue_bytes = 10  # less than one event
    async with running.subscribe() as subscription:  # no direct write: a sender still replaying
        await submit(store, "a")
        await until(lambda: subscription.queue.qsize() == 1)
        assert not subscription.dropped.is_set(), "the first event is taken, however large"
        assert subscription.queued_bytes > running.queue_bytes
        await submit(store, "b")
        await asyncio.wait_for(subscription.dropped.wait(), 5)
        assert subscription.too_slow and subscription.queue.qsize() == 1 < QUEUE_SIZE
    assert subscription.queued_bytes == 0, "what a dropped client held is let go"


async def test_the_sender_takes_frames_in_order_and_their_bytes_leave_the_count(hub: tuple[Hub, MemoryStore]) -> None:
    running, store = hub
    async with running.subscribe() as subscription:
        await submit(store, "a", "b", "c")
        await until(lambda: subscription.queue.qsize() == 3)
        assert request_ids(await subscription.take(2)) == ["a", "b"]
        assert subscription.queued_bytes == len((await store.events_after(0))[-1].json)
        assert request_ids(await subscription.take(2)) == ["c"]
        assert subscription.queued_bytes == 0


async def test_filters_by_request_id_and_skips_what_the_client_has_seen(hub: tuple[Hub, MemoryStore]) -> None:
    running, store = hub
    await submit(store, "a")
    await until(lambda: running.position == 1)
    mine, ahead = Socket(), Socket()
    async with (
        running.subscribe(["b", "c"]) as filtered,
        running.subscribe(since=3) as early,  # a client that has seen up to id 3, ahead of the hub
    ):
        filtered.direct, early.direct = mine.write_now, ahead.write_now
        await submit(store, "b", "x", "c", "d")  # ids 2 to 5
        await until(lambda: written_ids(mine) == ["b", "c"] and written_ids(ahead) == ["c", "d"])


async def test_a_client_whose_write_raises_is_dropped_alone_and_the_others_get_everything(
    hub: tuple[Hub, MemoryStore],
) -> None:
    running, store = hub

    def broken_socket(_data: bytes) -> bool:
        raise RuntimeError("the connection's transport is gone")

    async with caught_up(running) as (_healthy, socket), running.subscribe() as broken:
        broken.direct = broken_socket
        await submit(store, "a", "b")
        await until(lambda: written_ids(socket) == ["a", "b"])
        assert broken.dropped.is_set() and broken.close_code == CLOSE_INTERNAL_ERROR
        await submit(store, "c")
        await until(lambda: written_ids(socket) == ["a", "b", "c"])


class FaultyStore(MemoryStore):
    """The memory store, whose tail read answers nonsense once: the hub's tail dies on it."""

    faults = 1

    async def wait_events(self, after: int, timeout: float) -> list[Event]:
        if self.faults:
            self.faults -= 1
            return None  # type: ignore[return-value]
        return await super().wait_events(after, timeout)


async def test_a_tail_that_dies_is_restarted_loudly(caplog: pytest.LogCaptureFixture) -> None:
    store = FaultyStore(Settings(store="memory://"))
    await store.open()
    running = Hub(store, QUEUE_SIZE, ReplayBudget(2**28, 2**23), QUEUE_BYTES)
    await running.start()
    try:
        async with caught_up(running) as (_subscription, socket):
            await submit(store, "a")
            await until(lambda: written_ids(socket) == ["a"], timeout=10)
        assert "tail of the event log died" in caplog.text
    finally:
        await running.stop()
