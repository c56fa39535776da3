"""Feeding an endpoint's outbox from the event log, through its cursor.

The cursor is the last event id read for the endpoint: events after it that the endpoint asked for become pending
deliveries, and the cursor moves past them, in one store operation (``Store.add_webhook_deliveries``). So the outbox
is filled in event-id order, nothing is read twice, and a restart resumes from the cursor. The outbox holds at most
``BATCH`` pending deliveries: an endpoint that is down does not copy the log, it stops reading it, and its backlog
stays in the log until it answers again. A fill reads ``READ_BYTES`` of pending deliveries and of events at a time
(and the one that crosses it): each of the ``--webhook-concurrency`` runs holds what it read while it waits for the
store and sends, so reads of 32 MiB (a listing's page) made 64 runs hold gigabytes.

Events pruned (``--retain-days``, ``--retain-events``) before the cursor reached them are recorded as one failed
delivery (``GAP``) rather than skipped in silence. An endpoint that watches some requests only is woken by their
events alone, so its cursor may be far behind when it is next woken, past events that were not its own: a gap is
recorded for it only while it is failing (it fell behind its own events).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from linkcast.core.events import Event
from linkcast.core.webhooks import Delivery, Endpoint, gap_delivery
from linkcast.memory_budget import MemoryBudget
from linkcast.store.base import Store
from linkcast.store.listing import cut_short
from linkcast.webhooks.payload_memory import LARGE_PAYLOAD_BYTES

BATCH = 100  # pending deliveries read into an outbox at most
SCAN = 1000  # events read from the log per step
MAX_SCANS = 10  # steps per fill: an endpoint far behind continues in its next run
READ_BYTES = 1024 * 1024  # payloads read per step, and pending payloads that fill an outbox enough


class _Step:
    """One step of a fill: the events after the endpoint's cursor, and the deliveries of those it wants added."""

    def __init__(self, store: Store, endpoint: Endpoint, last: int, pending: int) -> None:
        self.store, self.endpoint, self.last = store, endpoint, last
        self.room = BATCH - pending
        self.gap: Delivery | None = None

    async def read(self) -> list[Event]:
        """The events after the cursor, ``READ_BYTES`` of them (and the one that crosses it); pruned ones past the
        cursor become a gap delivery."""
        now = time.time()
        first = await self.store.first_event_id()
        cursor, endpoint, self.gap = self.endpoint.cursor, self.endpoint, None
        if cursor + 1 < first and (endpoint.request_ids is None or endpoint.failing_since is not None):
            self.gap = gap_delivery(endpoint.endpoint_id, cursor + 1, first - 1, now)
            cursor = first - 1
        return await self.store.events_after(
            cursor, endpoint.request_ids, limit=SCAN, until=self.last, max_bytes=READ_BYTES
        )

    async def add(self, events: list[Event]) -> int | None:
        """The deliveries added (None: the endpoint changed under us)."""
        now = time.time()
        found = [self.gap] if self.gap is not None else []
        cut = cut_short(events, SCAN, READ_BYTES)  # more may follow the last one read
        end = events[-1].id if cut else self.last
        for event in events:
            if not self.endpoint.wants(event):
                continue
            if len(found) >= self.room:
                end = event.id - 1  # the rest waits for room
                break
            found.append(Delivery.of_event(self.endpoint.endpoint_id, event, now))
        if not await self.store.add_webhook_deliveries(self.endpoint.endpoint_id, self.endpoint.cursor, end, found):
            return None
        return len(found)


@dataclass(frozen=True, slots=True)
class Filled:
    pending: list[Delivery]  # in event-id order
    behind: bool  # events are left to read (the outbox is full, or this fill read all it may)


async def fill_outbox(store: Store, endpoint_id: str, payloads: MemoryBudget | None = None) -> Filled:
    """The endpoint's pending deliveries, the outbox first topped up from the log if it is less than half full; a
    step that reads more than ``LARGE_PAYLOAD_BYTES`` of events holds them within a share of ``payloads``."""
    pending = await store.pending_webhook_deliveries(endpoint_id, BATCH, READ_BYTES)
    if len(pending) >= BATCH // 2 or sum(len(d.payload) for d in pending) > READ_BYTES:
        return Filled(pending, True)  # full enough (a read cut by bytes may leave more pending than it shows)
    last = await store.last_event_id()
    added = False
    for _ in range(MAX_SCANS):
        endpoint = await store.get_webhook(endpoint_id)
        if endpoint is None or endpoint.cursor >= last:
            break
        step = _Step(store, endpoint, last, len(pending))
        events = await step.read()
        size = sum(len(event.json) for event in events)
        if payloads is None or size <= LARGE_PAYLOAD_BYTES:
            found = await step.add(events)
        else:
            let_go = not payloads.available(size)
            if let_go:
                events = []  # held by nobody while this step waits for its share: read again with it
            async with payloads.held(size):
                found = await step.add(await step.read() if let_go else events)
        if found is None:
            break  # the endpoint changed under us (deleted): its next run starts over
        added = added or bool(found)
        if found >= step.room:
            break
    if added:
        pending = await store.pending_webhook_deliveries(endpoint_id, BATCH, READ_BYTES)
    endpoint = await store.get_webhook(endpoint_id)
    return Filled(pending, endpoint is not None and endpoint.cursor < last)
