"""Feeding an endpoint's outbox from the event log, through its cursor.

The cursor is the last event id read for the endpoint: events after it that the endpoint asked for become pending
deliveries, and the cursor moves past them, in one store operation (``Store.add_webhook_deliveries``). So the outbox
is filled in event-id order, nothing is read twice, and a restart resumes from the cursor. The outbox holds at most
``BATCH`` pending deliveries: an endpoint that is down does not copy the log, it stops reading it, and its backlog
stays in the log until it answers again.

Events pruned (``--retain-days``, ``--retain-events``) before the cursor reached them are recorded as one failed
delivery (``GAP``) rather than skipped in silence. An endpoint that watches some requests only is woken by their
events alone, so its cursor may be far behind when it is next woken, past events that were not its own: a gap is
recorded for it only while it is failing (it fell behind its own events).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from linkcast.core.webhooks import Delivery, gap_delivery
from linkcast.store.base import Store
from linkcast.store.listing import LISTING_BYTES, cut_short

BATCH = 100  # pending deliveries read into an outbox at most
SCAN = 1000  # events read from the log per step
MAX_SCANS = 10  # steps per fill: an endpoint far behind continues in its next run


@dataclass(frozen=True, slots=True)
class Filled:
    pending: list[Delivery]  # in event-id order
    behind: bool  # events are left to read (the outbox is full, or this fill read all it may)


async def fill_outbox(store: Store, endpoint_id: str) -> Filled:
    """The endpoint's pending deliveries, the outbox first topped up from the log if it is less than half full."""
    pending = await store.pending_webhook_deliveries(endpoint_id, BATCH)
    if len(pending) >= BATCH // 2 or sum(len(d.payload) for d in pending) > LISTING_BYTES:
        return Filled(pending, True)  # full enough (a read cut by bytes may leave more pending than it shows)
    last = await store.last_event_id()
    added = False
    for _ in range(MAX_SCANS):
        endpoint = await store.get_webhook(endpoint_id)
        if endpoint is None or endpoint.cursor >= last:
            break
        now = time.time()
        cursor, found = endpoint.cursor, []
        first = await store.first_event_id()
        if cursor + 1 < first and (endpoint.request_ids is None or endpoint.failing_since is not None):
            found.append(gap_delivery(endpoint_id, cursor + 1, first - 1, now))
            cursor = first - 1
        events = await store.events_after(cursor, endpoint.request_ids, limit=SCAN, until=last)
        cut = cut_short(events, SCAN)  # more may follow the last one read
        end = events[-1].id if cut else last
        room = BATCH - len(pending)
        for event in events:
            if not endpoint.wants(event):
                continue
            if len(found) >= room:
                end = event.id - 1  # the rest waits for room
                break
            found.append(Delivery.of_event(endpoint_id, event, now))
        if not await store.add_webhook_deliveries(endpoint_id, endpoint.cursor, end, found):
            break  # the endpoint changed under us (deleted): its next run starts over
        added = added or bool(found)
        if len(found) >= room:
            break
    if added:
        pending = await store.pending_webhook_deliveries(endpoint_id, BATCH)
    endpoint = await store.get_webhook(endpoint_id)
    return Filled(pending, endpoint is not None and endpoint.cursor < last)
