"""The store's contract for webhooks: endpoints change only by compare-and-swap, the outbox moves with its cursor,
and an endpoint's one job is woken by its requests' events, never doubled. Proven against every backend."""

from __future__ import annotations

import dataclasses
import time

from linkcast.core.events import WEBHOOK_JOB, Job
from linkcast.core.webhooks import (
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    ENDPOINT_DISABLED,
    KEEP_ENDED_DELIVERIES,
    Delivery,
    Endpoint,
)
from linkcast.store import Store
from tests.store.conftest import Backend

WAIT = 10.0
URL = "https://hooks.example/in"


def endpoint(endpoint_id: str = "e", request_ids: list[str] | None = None, **changes: object) -> Endpoint:
    made = Endpoint(endpoint_id, URL, ["result", "error"], "whsec_c2VjcmV0", request_ids, created_at=1.0)
    return dataclasses.replace(made, **changes)


def delivery(event_id: int, endpoint_id: str = "e", **changes: object) -> Delivery:
    made = Delivery(endpoint_id, event_id, "result", f'{{"id":{event_id}}}', created_at=1.0)
    return dataclasses.replace(made, **changes)


async def take(store: Store, timeout: float = WAIT) -> Job | None:
    return await store.next_job("w", timeout=timeout)


async def test_an_endpoint_changes_only_from_the_version_read(store: Store) -> None:
    assert await store.save_webhook(endpoint(cursor=7), 0)
    assert not await store.save_webhook(endpoint(), 0), "a second create must lose"
    stored = await store.get_webhook("e")
    assert stored is not None and stored.version == 1 and stored.cursor == 7
    assert await store.save_webhook(dataclasses.replace(stored, state=ENDPOINT_DISABLED, cursor=0), 1)
    assert not await store.save_webhook(dataclasses.replace(stored, delivered=5), 1), "a stale version must lose"
    stored = await store.get_webhook("e")
    assert stored is not None and stored.state == ENDPOINT_DISABLED and stored.version == 2
    assert stored.cursor == 7, "saving an endpoint never moves its cursor"
    assert await store.get_webhook("other") is None


async def test_endpoints_are_listed_by_id_in_pages(store: Store) -> None:
    for name in ("c", "a", "b"):
        assert await store.save_webhook(endpoint(name), 0)
    first = await store.list_webhooks(None, 2)
    assert [e.endpoint_id for e in first.items] == ["a", "b"] and first.next is not None
    second = await store.list_webhooks(first.next, 2)
    assert [e.endpoint_id for e in second.items] == ["c"] and second.next is None


async def test_endpoints_made_with_put_are_counted_apart_from_those_of_requests(store: Store) -> None:
    assert await store.count_webhooks() == 0
    for name in ("a", "b~x", "feedsX", "urls~1", "crawls~2", "feeds~3", "zz"):
        assert await store.save_webhook(endpoint(name), 0)
    assert await store.count_webhooks() == 4, "a request's own endpoint (urls~, crawls~, feeds~) is not counted"
    stored = await store.get_webhook("a")
    assert stored is not None and await store.save_webhook(stored, stored.version)
    assert await store.count_webhooks() == 4, "a change is no new endpoint"
    assert await store.delete_webhook("a") and await store.delete_webhook("urls~1")
    assert await store.count_webhooks() == 3


async def test_the_outbox_moves_with_its_cursor_and_keeps_event_order(store: Store) -> None:
    await store.save_webhook(endpoint(), 0)
    assert await store.add_webhook_deliveries("e", 0, 10, [delivery(9), delivery(3)])
    assert not await store.add_webhook_deliveries("e", 0, 12, [delivery(11)]), "a stale cursor must lose"
    assert not await store.add_webhook_deliveries("missing", 0, 1, [delivery(1, "missing")])
    assert [d.event_id for d in await store.pending_webhook_deliveries("e", 10)] == [3, 9]
    await store.save_webhook_delivery(delivery(3, state=DELIVERY_DELIVERED, attempts=1))
    assert [d.event_id for d in await store.pending_webhook_deliveries("e", 10)] == [9]
    found = await store.get_webhook_delivery("e", 3)
    assert found is not None and found.state == DELIVERY_DELIVERED and found.attempts == 1
    page = await store.webhook_deliveries("e", None, 1)
    assert [d.event_id for d in page.items] == [3] and page.next is not None
    page = await store.webhook_deliveries("e", page.next, 1)
    assert [d.event_id for d in page.items] == [9] and page.next is None
    stored = await store.get_webhook("e")
    assert stored is not None and stored.cursor == 10


async def test_deliveries_are_read_within_a_byte_budget(store: Store) -> None:
    """A delivery carries its event, which may hold 8 MiB of links: the outbox's hundred pending ones, or a listing's
    thousand, read at once could be gigabytes. A read stops after the delivery that crosses ``max_bytes``."""
    await store.save_webhook(endpoint(), 0)
    big = [delivery(n, payload='{"links":"' + "x" * 10_000 + '"}') for n in range(1, 6)]
    assert await store.add_webhook_deliveries("e", 0, 5, big)
    pending = await store.pending_webhook_deliveries("e", 100, max_bytes=15_000)
    assert [d.event_id for d in pending] == [1, 2]
    assert len(await store.pending_webhook_deliveries("e", 100, max_bytes=1)) == 1, "never an empty read"
    sizes: list[int] = []
    seen: list[int] = []
    cursor: str | None = None
    while True:
        page = await store.webhook_deliveries("e", cursor, 100, max_bytes=15_000)
        sizes.append(len(page.items))
        seen += [d.event_id for d in page.items]
        if page.next is None:
            break
        cursor = page.next
    assert seen == [1, 2, 3, 4, 5] and max(sizes) == 2, sizes


async def test_a_failed_delivery_can_be_made_pending_again(store: Store) -> None:
    await store.save_webhook(endpoint(), 0)
    await store.add_webhook_deliveries("e", 0, 5, [delivery(5, state=DELIVERY_FAILED)])
    assert await store.pending_webhook_deliveries("e", 10) == []
    await store.save_webhook_delivery(delivery(5))
    assert [d.event_id for d in await store.pending_webhook_deliveries("e", 10)] == [5]


async def test_ended_deliveries_are_kept_up_to_a_bound(store: Store) -> None:
    await store.save_webhook(endpoint(), 0)
    count = KEEP_ENDED_DELIVERIES + 5
    await store.add_webhook_deliveries("e", 0, count, [delivery(n) for n in range(1, count + 1)])
    for n in range(1, count + 1):
        await store.save_webhook_delivery(delivery(n, state=DELIVERY_DELIVERED))
    assert await store.get_webhook_delivery("e", 5) is None, "the oldest ended deliveries are dropped"
    assert await store.get_webhook_delivery("e", 6) is not None
    assert await store.get_webhook_delivery("e", count) is not None


async def test_a_wake_queues_one_job_per_endpoint_that_watches(store: Store) -> None:
    await store.save_webhook(endpoint("all"), 0)
    await store.save_webhook(endpoint("mine", ["r1"]), 0)
    await store.save_webhook(endpoint("theirs", ["r2"]), 0)
    await store.save_webhook(endpoint("off", state=ENDPOINT_DISABLED), 0)
    await store.wake_webhooks(["r1"])
    await store.wake_webhooks(["r1"])
    taken = []
    while (job := await take(store, 0.3)) is not None:
        taken.append(job)
    assert sorted((j.kind, j.request_id) for j in taken) == [(WEBHOOK_JOB, "all"), (WEBHOOK_JOB, "mine")]


async def test_a_wake_while_the_job_runs_queues_it_again_when_it_ends(store: Store) -> None:
    await store.save_webhook(endpoint(), 0)
    await store.wake_webhook("e")
    job = await take(store)
    assert job is not None and job.request_id == "e"
    await store.wake_webhooks(None)
    assert await take(store, 0.2) is None, "one job per endpoint at a time"
    await store.finish_webhook_job(job, None)
    again = await take(store)
    assert again is not None and again.request_id == "e"
    await store.finish_webhook_job(again, None)
    assert await take(store, 0.2) is None, "nothing woke it since: no job"


async def test_a_finished_job_comes_back_when_its_next_delivery_is_due(store: Store) -> None:
    await store.save_webhook(endpoint(), 0)
    await store.wake_webhook("e")
    job = await take(store)
    assert job is not None
    await store.finish_webhook_job(job, time.time() + 0.3)
    assert await take(store, 0.05) is None, "not before it is due"
    assert await take(store) is not None


async def test_a_deleted_endpoint_takes_its_outbox_and_job_with_it(store: Store) -> None:
    await store.save_webhook(endpoint("e", ["r1"]), 0)
    await store.add_webhook_deliveries("e", 0, 1, [delivery(1)])
    await store.wake_webhook("e")
    assert await store.delete_webhook("e")
    assert not await store.delete_webhook("e")
    assert await store.get_webhook("e") is None
    assert await store.pending_webhook_deliveries("e", 10) == []
    assert await take(store, 0.2) is None
    await store.wake_webhooks(["r1"])
    assert await take(store, 0.2) is None


async def test_a_delete_of_a_version_gone_by_keeps_the_endpoint(store: Store) -> None:
    """A request refused after making its endpoint removes it only if no other request took it up meanwhile."""
    await store.save_webhook(endpoint("e", ["r1"]), 0)
    await store.add_webhook_deliveries("e", 0, 1, [delivery(1)])
    taken_up = await store.get_webhook("e")
    assert taken_up is not None and await store.save_webhook(taken_up, 1)
    assert not await store.delete_webhook("e", 1)
    kept = await store.get_webhook("e")
    assert kept is not None and kept.version == 2
    assert [d.event_id for d in await store.pending_webhook_deliveries("e", 10)] == [1]
    assert await store.delete_webhook("e", 2)
    assert await store.get_webhook("e") is None


async def test_a_second_run_never_changes_what_the_first_ended(store: Store) -> None:
    """The endpoint's job handed out again while its first run still sends (a stalled worker past its lease): both
    read the delivery pending; the first records it delivered, and the second's failure of the same attempt must not
    turn it back to pending (sent again) or failed. A retry (no attempt expected) still reopens a failed one."""
    await store.save_webhook(endpoint(), 0)
    await store.add_webhook_deliveries("e", 0, 1, [delivery(1)])
    [read] = await store.pending_webhook_deliveries("e", 10)
    delivered = dataclasses.replace(read, state=DELIVERY_DELIVERED, attempts=1, delivered_at=2.0)
    await store.save_webhook_delivery(delivered, expected_attempts=0)
    await store.save_webhook_delivery(dataclasses.replace(read, attempts=1, next_try=3.0), expected_attempts=0)
    stored = await store.get_webhook_delivery("e", 1)
    assert stored is not None and (stored.state, stored.attempts) == (DELIVERY_DELIVERED, 1)
    assert await store.pending_webhook_deliveries("e", 10) == []
    await store.add_webhook_deliveries("e", 1, 2, [delivery(2, state=DELIVERY_FAILED, attempts=3)])
    await store.save_webhook_delivery(delivery(2, attempts=3))  # a retry
    [again] = await store.pending_webhook_deliveries("e", 10)
    assert (again.event_id, again.attempts) == (2, 3)


async def test_endpoints_and_outboxes_survive_a_reopen(backend: Backend) -> None:
    if not backend.persistent:
        return
    store = await backend.open()
    await store.save_webhook(endpoint(), 0)
    await store.add_webhook_deliveries("e", 0, 4, [delivery(4)])
    store = await backend.reopen(store)
    stored = await store.get_webhook("e")
    assert stored is not None and stored.cursor == 4 and stored.secret == "whsec_c2VjcmV0"
    assert [d.event_id for d in await store.pending_webhook_deliveries("e", 10)] == [4]


async def test_prune_drops_the_deliveries_that_ended_before_its_cutoff(store: Store) -> None:
    """An ended delivery keeps its event's payload (a result may hold 8 MiB of links): kept up to a bound by count
    only, an endpoint that got few events kept them for ever, however far past --retain-days its events had gone."""
    now = time.time()
    old, recent = now - 3600, now
    await store.save_webhook(endpoint(), 0)
    await store.add_webhook_deliveries("e", 0, 7, [delivery(n) for n in (1, 2, 3, 4, 7)])
    await store.save_webhook_delivery(delivery(1, state=DELIVERY_DELIVERED, delivered_at=old))
    await store.save_webhook_delivery(delivery(2, state=DELIVERY_FAILED, last_try_at=old))
    await store.save_webhook_delivery(delivery(3, state=DELIVERY_DELIVERED, delivered_at=recent))
    await store.save_webhook_delivery(delivery(7, state=DELIVERY_FAILED, last_try_at=old))
    await store.save_webhook_delivery(delivery(7))  # retried: pending again, however old its last attempt
    ended_when_added = [
        delivery(8, state=DELIVERY_FAILED, created_at=old),
        delivery(9, state=DELIVERY_FAILED, created_at=recent),
    ]
    await store.add_webhook_deliveries("e", 7, 9, ended_when_added)  # as a gap is recorded
    await store.save_webhook(endpoint("f"), 0)
    await store.add_webhook_deliveries("f", 0, 1, [delivery(1, "f")])
    await store.save_webhook_delivery(delivery(1, "f", state=DELIVERY_DELIVERED, delivered_at=old))
    first = await store.webhook_deliveries("e", None, 1)
    await store.prune(now - 60, keep_events=1_000_000)
    assert [d.event_id for d in (await store.webhook_deliveries("e", None, 10)).items] == [3, 4, 7, 9]
    assert [d.event_id for d in (await store.webhook_deliveries("e", first.next, 10)).items] == [3, 4, 7, 9]
    assert (await store.webhook_deliveries("f", None, 10)).items == []
    assert [d.event_id for d in await store.pending_webhook_deliveries("e", 10)] == [4, 7]
    await store.save_webhook_delivery(delivery(9, state=DELIVERY_FAILED, last_try_at=recent))
    assert await store.delete_webhook("e")
    await store.prune(now + 60, keep_events=1_000_000)  # what a deleted endpoint's deliveries left goes too


async def test_wakes_of_an_endpoint_whose_job_is_queued_do_not_push_its_next_run_back(store: Store) -> None:
    """A wake that finds the endpoint's job queued changes nothing in the queue: each event woke it, and had each one
    taken a place in the endpoint's flow (and its host's), its next run would wait behind as many other jobs."""
    await store.save_webhook(endpoint(), 0)
    for _ in range(50):  # one wake per event, while its one job waits
        await store.wake_webhook("e")
    job = await take(store)
    assert job is not None and job.request_id == "e"
    await store.finish_webhook_job(job, time.time())  # more is due at once
    for n in range(10):
        await store.submit(f"r{n}", f"https://r{n}.example/", flow="client:x")
    taken = [(await take(store)).request_id for _ in range(3)]  # type: ignore[union-attr]
    assert "e" in taken[:2], taken


async def test_an_attempt_is_saved_only_over_the_delivery_it_was_made_of(store: Store) -> None:
    """A run's POST was on its way when the endpoint's outbox was made again with a delivery of the same event id (on
    Redis, restarted without its data: its ids start over, and the endpoint was PUT again): its outcome, saved over
    the new pending delivery of another event, ended it unsent (a delivery lost)."""
    assert await store.save_webhook(endpoint(), 0)
    assert await store.add_webhook_deliveries("e", 0, 5, [delivery(5, created_at=1.0)])
    [in_flight] = await store.pending_webhook_deliveries("e", 10)
    assert await store.delete_webhook("e")
    assert await store.save_webhook(endpoint(created_at=2.0), 0)
    assert await store.add_webhook_deliveries("e", 0, 5, [delivery(5, created_at=2.0, payload='{"id":5,"new":1}')])
    sent = dataclasses.replace(in_flight, state=DELIVERY_DELIVERED, attempts=1, delivered_at=time.time())
    await store.save_webhook_delivery(sent, expected_attempts=in_flight.attempts)
    [pending] = await store.pending_webhook_deliveries("e", 10)
    assert (pending.created_at, pending.payload) == (2.0, '{"id":5,"new":1}')
