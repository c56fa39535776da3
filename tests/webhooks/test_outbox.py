"""The outbox's cursor over the event log: what an endpoint asked for, in order, once; a backlog read in bounded
steps; events pruned before they were read recorded as a failed delivery, not skipped in silence."""

from __future__ import annotations

from linkcast.core.webhooks import DELIVERY_FAILED, ENDPOINT_ACTIVE, ENDPOINT_DISABLED, GAP, Delivery
from linkcast.settings import Settings
from linkcast.store import Store, open_store
from linkcast.webhooks.outbox import BATCH, fill_outbox
from linkcast.webhooks.retention import RequestWebhookPruner
from tests.webhooks.conftest import add_endpoint


async def opened() -> Store:
    store = open_store(Settings(store="memory://"))
    await store.open()
    return store


async def test_only_the_events_asked_for_enter_the_outbox_in_order_once() -> None:
    store = await opened()
    await add_endpoint(store, "mine", "https://hooks.example/", events=["accepted"], request_ids=["b", "c"])
    for request_id in "abcd":
        await store.submit(request_id, f"https://site.example/{request_id}")
    filled = await fill_outbox(store, "mine")
    assert [d.event_type for d in filled.pending] == ["accepted", "accepted"]
    assert [d.payload for d in filled.pending] == [e.json for e in await store.events_after(0, ["b", "c"])]
    again = await fill_outbox(store, "mine")
    assert [d.event_id for d in again.pending] == [d.event_id for d in filled.pending] and not again.behind


async def test_a_backlog_is_read_a_batch_at_a_time() -> None:
    store = await opened()
    await add_endpoint(store, "all", "https://hooks.example/", events=["accepted"])
    await store.submit_many([(f"r{n}", f"https://site.example/{n}") for n in range(BATCH + 10)])
    filled = await fill_outbox(store, "all")
    assert len(filled.pending) == BATCH and filled.behind
    endpoint = await store.get_webhook("all")
    assert endpoint is not None and endpoint.cursor == filled.pending[-1].event_id, "the rest is left in the log"


async def test_events_pruned_before_they_were_read_are_a_failed_delivery() -> None:
    store = await opened()
    await add_endpoint(store, "late", "https://hooks.example/", events=["accepted"])
    for n in range(5):
        await store.submit(f"r{n}", f"https://site.example/{n}")
    await store.prune(0.0, keep_events=2)
    first = await store.first_event_id()
    filled = await fill_outbox(store, "late")
    page = await store.webhook_deliveries("late", None, 10)
    gap = page.items[0]
    assert gap.event_type == GAP and gap.state == DELIVERY_FAILED and gap.event_id == first - 1
    assert gap.last_error is not None and gap.last_error["code"] == "events_pruned"
    assert [d.event_id for d in filled.pending] == [e.id for e in await store.events_after(0)]


async def test_a_request_s_own_endpoint_goes_once_the_request_is_pruned_and_nothing_is_pending() -> None:
    store = await opened()
    for scope_id in ("urls~gone", "urls~kept", "urls~waiting"):
        request_id = scope_id.split("~")[1]
        await add_endpoint(store, scope_id, "https://hooks.example/", request_ids=[request_id], created_at=1.0)
    await add_endpoint(store, "urls~just-made", "https://hooks.example/", request_ids=["just-made"])
    await add_endpoint(store, "mine", "https://hooks.example/")
    await store.submit("kept", "https://site.example/kept")
    await store.add_webhook_deliveries("urls~waiting", 0, 1, [Delivery("urls~waiting", 1, "result", "{}")])
    assert await RequestWebhookPruner(store).sweep() == 1
    listed = await store.list_webhooks(None, 10)
    assert [e.endpoint_id for e in listed.items] == ["mine", "urls~just-made", "urls~kept", "urls~waiting"]


async def test_a_request_s_disabled_endpoint_goes_once_the_request_is_pruned_whatever_it_held_pending() -> None:
    """Disabled (its server failed for the whole retry window), a crawl's endpoint keeps the deliveries it had not
    tried: once the crawl was pruned it was kept for them for ever, one such endpoint and its deliveries per crawl."""
    store = await opened()
    for state in (ENDPOINT_DISABLED, ENDPOINT_ACTIVE):
        endpoint_id = f"crawls~{state}"
        await add_endpoint(store, endpoint_id, "https://hooks.example/", request_ids=[state], created_at=1.0,
                           state=state)  # fmt: skip
        await store.add_webhook_deliveries(endpoint_id, 0, 1, [Delivery(endpoint_id, 1, "page", "{}")])
    assert await RequestWebhookPruner(store).sweep() == 1
    assert [e.endpoint_id for e in (await store.list_webhooks(None, 10)).items] == ["crawls~active"]


async def test_the_sweep_of_request_endpoints_looks_at_a_budget_of_them_and_goes_on_from_there() -> None:
    store = await opened()
    for n in range(5):
        await add_endpoint(store, f"urls~gone{n}", "https://hooks.example/", request_ids=[f"gone{n}"], created_at=1.0)
    pruner = RequestWebhookPruner(store, budget=2)
    assert [await pruner.sweep() for _ in range(3)] == [2, 2, 1]  # five orphans, two a sweep, then the rest
    assert (await store.list_webhooks(None, 10)).items == []
    await add_endpoint(store, "urls~late", "https://hooks.example/", request_ids=["late"], created_at=1.0)
    assert await pruner.sweep() == 1  # after the last endpoint, the next sweep starts from the first again
