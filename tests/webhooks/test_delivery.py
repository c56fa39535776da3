"""Delivery to local receivers: signed (verified with the standardwebhooks package), in order, retried with the
same webhook-id, disabled by 410 or by failing for the whole window, a redirect never followed, and one endpoint
that hangs never delaying another."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from linkcast.core.webhooks import (
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    ENDPOINT_ACTIVE,
    ENDPOINT_DISABLED,
    Endpoint,
    new_secret,
)
from linkcast.runtime import Runtime
from linkcast.store import Store
from tests.support.webhook_receiver import WebhookReceiver
from tests.webhooks.conftest import RuntimeFactory, add_endpoint, eventually


async def submit(store: Store, receiver: WebhookReceiver, *request_ids: str) -> None:
    for request_id in request_ids:
        await store.submit(request_id, receiver.url("/page") + f"?{request_id}")


async def test_results_arrive_signed_in_event_order_as_the_stream_sends_them(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver
) -> None:
    runtime = await make_runtime()
    endpoint = await add_endpoint(runtime.store, "ok", receiver.answer("/ok"))
    await submit(runtime.store, receiver, "a", "b", "c", "d")
    await receiver.wait_for(lambda: len(receiver.at("/ok")) == 4)
    got = receiver.at("/ok")
    bodies = [r.verified(endpoint.secret) for r in got]
    assert [b["type"] for b in bodies] == ["result"] * 4
    ids = [b["id"] for b in bodies]
    assert ids == sorted(ids), "in event-id order"
    events = {e.id: e.json for e in await runtime.store.events_after(0)}
    assert [r.body.decode() for r in got] == [events[i] for i in ids], "the body is the event's JSON as streamed"
    assert [r.webhook_id for r in got] == [f"msg_ok_{i}" for i in ids]

    async def recorded() -> bool:
        page = await runtime.store.webhook_deliveries("ok", None, 10)
        return [d.state for d in page.items] == [DELIVERY_DELIVERED] * 4

    await eventually(recorded)
    stored = await runtime.store.get_webhook("ok")
    assert stored is not None and stored.delivered == 4 and stored.failing_since is None


async def test_an_endpoint_made_while_none_existed_gets_what_came_right_after(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver
) -> None:
    # With no endpoint, the waker passes events over and asks the store again only now and then: the first endpoint,
    # made just after events were passed over and followed by nothing else, must still be woken for its request.
    runtime = await make_runtime()
    await submit(runtime.store, receiver, "before")

    async def ended(request_id: str) -> bool:
        return any(e.type == "result" and e.request_id == request_id for e in await runtime.store.events_after(0))

    await eventually(lambda: ended("before"))
    endpoint = await add_endpoint(runtime.store, "first", receiver.answer("/first"))
    await submit(runtime.store, receiver, "after")
    await receiver.wait_for(lambda: len(receiver.at("/first")) == 1)
    assert receiver.at("/first")[0].verified(endpoint.secret)["request_id"] == "after"


async def test_a_failing_endpoint_gets_the_same_delivery_again_until_it_answers(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver
) -> None:
    runtime = await make_runtime()
    endpoint = await add_endpoint(runtime.store, "flaky", receiver.answer("/flaky", 500, first=2))
    await submit(runtime.store, receiver, "a", "b")
    await receiver.wait_for(lambda: len(receiver.at("/flaky")) == 4)
    got = receiver.at("/flaky")
    assert len({r.webhook_id for r in got[:3]}) == 1, "a retry is the same message"
    assert [r.verified(endpoint.secret)["request_id"] for r in got] == ["a", "a", "a", "b"], "b waits for a"

    async def delivered() -> bool:
        found = await runtime.store.get_webhook_delivery("flaky", int(got[0].verified(endpoint.secret)["id"]))  # type: ignore[call-overload]
        return found is not None and found.state == DELIVERY_DELIVERED and found.attempts == 3

    await eventually(delivered)


async def test_410_gone_disables_the_endpoint_and_nothing_more_is_sent(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver
) -> None:
    runtime = await make_runtime()
    await add_endpoint(runtime.store, "gone", receiver.answer("/gone", 410))
    await submit(runtime.store, receiver, "a")
    await receiver.wait_for(lambda: len(receiver.at("/gone")) == 1)

    async def disabled() -> bool:
        found = await runtime.store.get_webhook("gone")
        return found is not None and found.state == ENDPOINT_DISABLED

    await eventually(disabled)
    found = await runtime.store.get_webhook("gone")
    assert found is not None and found.reason == "the endpoint answered 410 Gone"
    page = await runtime.store.webhook_deliveries("gone", None, 10)
    assert [d.state for d in page.items] == [DELIVERY_FAILED]
    error = page.items[0].last_error
    assert error is not None and error["status"] == 410 and len(error["body"]) <= 256, "the answer is read a little"
    await submit(runtime.store, receiver, "b")
    await eventually(lambda: _has_result(runtime.store, "b"))
    await runtime.store.wake_webhooks(None)
    assert len(receiver.at("/gone")) == 1


async def _has_result(store: Store, request_id: str) -> bool:
    record = await store.get_request(request_id)
    return record is not None and record.outcome is not None


async def test_an_endpoint_failing_for_the_whole_window_is_disabled_and_says_so(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver
) -> None:
    runtime = await make_runtime(webhook_retry_hours=0.3 / 3600)
    await add_endpoint(runtime.store, "down", receiver.answer("/down", 503))
    await submit(runtime.store, receiver, "a")

    async def disabled() -> bool:
        found = await runtime.store.get_webhook("down")
        return found is not None and found.state == ENDPOINT_DISABLED

    await eventually(disabled)
    found = await runtime.store.get_webhook("down")
    assert found is not None and found.reason is not None and "every attempt failed" in found.reason
    assert len(receiver.at("/down")) >= 2, "retried within the window"
    page = await runtime.store.webhook_deliveries("down", None, 10)
    assert [d.state for d in page.items] == [DELIVERY_FAILED]


async def test_a_redirect_is_not_followed(make_runtime: RuntimeFactory, receiver: WebhookReceiver) -> None:
    runtime = await make_runtime()
    target = receiver.answer("/target")
    await add_endpoint(runtime.store, "moved", receiver.redirect("/moved", target))
    await submit(runtime.store, receiver, "a")
    await receiver.wait_for(lambda: len(receiver.at("/moved")) >= 2)
    assert receiver.at("/target") == []
    page = await runtime.store.webhook_deliveries("moved", None, 10)
    error = page.items[0].last_error
    assert page.items[0].state == DELIVERY_PENDING and error is not None and "not followed" in error["message"]


async def test_an_endpoint_that_hangs_delays_no_other(make_runtime: RuntimeFactory, receiver: WebhookReceiver) -> None:
    runtime = await make_runtime(workers=1, webhook_timeout=30.0)
    await add_endpoint(runtime.store, "slow", receiver.hanging("/slow"))
    await add_endpoint(runtime.store, "fast", receiver.answer("/fast"))
    await submit(runtime.store, receiver, "a", "b", "c")
    await receiver.wait_for(lambda: len(receiver.at("/fast")) == 3 and len(receiver.at("/slow")) == 1)
    assert not receiver.hang.is_set(), "the slow endpoint still holds its first delivery"


async def test_endpoints_that_fill_the_pool_hold_no_worker(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver
) -> None:
    # One hanging endpoint fills the pool; the two others' jobs waited for room in it on the two workers, and a page
    # submitted then waited for --webhook-timeout (with the defaults, 64 hanging endpoints on 16 ports and 8 more
    # stalled every page fetch of the process for as long as an attacker kept them hanging).
    runtime = await make_runtime(workers=2, webhook_concurrency=1, webhook_timeout=30.0)
    for n in range(3):
        await add_endpoint(runtime.store, f"slow{n}", receiver.hanging(f"/slow{n}"))
    await submit(runtime.store, receiver, "first")
    await receiver.wait_for(lambda: any(receiver.at(f"/slow{n}") for n in range(3)))

    async def all_taken() -> bool:
        return await runtime.store.queue_depth() == 0

    await eventually(all_taken)
    await submit(runtime.store, receiver, "second")

    async def second_ended() -> bool:
        return any(e.type == "result" and e.request_id == "second" for e in await runtime.store.events_after(0))

    await eventually(second_ended, timeout=10.0)
    assert not receiver.hang.is_set(), "the pool is still held by the hanging endpoint"


async def test_a_timeout_fails_the_attempt(make_runtime: RuntimeFactory, receiver: WebhookReceiver) -> None:
    runtime = await make_runtime(webhook_timeout=0.2)
    await add_endpoint(runtime.store, "slow", receiver.hanging("/slow"))
    await submit(runtime.store, receiver, "a")
    await receiver.wait_for(lambda: len(receiver.at("/slow")) >= 2)
    page = await runtime.store.webhook_deliveries("slow", None, 10)
    error = page.items[0].last_error
    assert error is not None and error["code"] == "timeout"


async def test_a_target_the_address_policy_refuses_is_never_contacted(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver
) -> None:
    runtime = await make_runtime(deny_hosts=("localhost",))
    await add_endpoint(runtime.store, "private", f"http://localhost:{receiver.port}/ok")
    await submit(runtime.store, receiver, "a")

    async def refused() -> bool:
        page = await runtime.store.webhook_deliveries("private", None, 10)
        return bool(page.items) and page.items[0].last_error is not None

    await eventually(refused)
    page = await runtime.store.webhook_deliveries("private", None, 10)
    assert page.items[0].last_error is not None and page.items[0].last_error["code"] == "blocked"
    assert receiver.at("/ok") == []


async def _results_in_log(store: Store, count: int) -> bool:
    return sum(e.type == "result" for e in await store.events_after(0)) == count


async def _a_run_held_at_its_first_post(
    runtime: Runtime, receiver: WebhookReceiver, path: str, results: int = 4, status: int = 200
) -> tuple[Endpoint, asyncio.Event]:
    """``results`` results, then an endpoint ``hook`` at ``path`` (answering ``status``) to send them: its run has
    read them all and its first POST is held at the receiver until the gate returned is set. The endpoint as made."""
    gate = asyncio.Event()
    receiver.hold(path, 1, gate)
    await submit(runtime.store, receiver, *(f"r{n}" for n in range(results)))
    await eventually(lambda: _results_in_log(runtime.store, results))
    hook = Endpoint("hook", receiver.answer(path, status), ["result"], new_secret(), created_at=time.time(), cursor=0)
    assert await runtime.store.save_webhook(hook, 0)  # the four results are its to send
    await runtime.store.wake_webhook("hook")
    await receiver.wait_for(lambda: len(receiver.at(path)) == 1)
    return hook, gate


async def _run_over(runtime: Runtime) -> None:
    async def over() -> bool:
        return not runtime.webhooks._running

    await eventually(over)


async def test_a_deleted_endpoint_gets_nothing_more_of_the_run_in_flight(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver
) -> None:
    """DELETE while a POST of a run is on its way: the deliveries the run read with it are not sent after the 204."""
    runtime = await make_runtime()
    _hook, gate = await _a_run_held_at_its_first_post(runtime, receiver, "/hook")
    assert await runtime.store.delete_webhook("hook")
    gate.set()
    await _run_over(runtime)
    assert len(receiver.at("/hook")) == 1, "deliveries of a deleted endpoint were sent"


async def test_a_run_in_flight_sends_the_rest_where_the_endpoint_points_now(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver
) -> None:
    """PUT of another URL while a POST of a run is on its way: the rest of the run goes to the new URL."""
    runtime = await make_runtime()
    _hook, gate = await _a_run_held_at_its_first_post(runtime, receiver, "/old")
    stored = await runtime.store.get_webhook("hook")
    assert stored is not None
    moved = dataclasses.replace(stored, url=receiver.answer("/new"))
    assert await runtime.store.save_webhook(moved, stored.version)
    gate.set()
    await receiver.wait_for(lambda: len(receiver.at("/new")) == 3)
    assert len(receiver.at("/old")) == 1


async def test_an_endpoint_made_again_under_its_id_gets_nothing_of_the_old_ones_run(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver
) -> None:
    """DELETE and PUT of the same id while a POST of a run is on its way: the new endpoint takes the events appended
    from then on, not the old one's deliveries."""
    runtime = await make_runtime()
    hook, gate = await _a_run_held_at_its_first_post(runtime, receiver, "/old")
    assert await runtime.store.delete_webhook("hook")
    await add_endpoint(runtime.store, "hook", receiver.answer("/new"), created_at=hook.created_at + 1)
    gate.set()
    await _run_over(runtime)
    assert (len(receiver.at("/old")), len(receiver.at("/new"))) == (1, 0)


async def test_the_old_endpoints_last_answer_leaves_one_made_again_under_its_id_alone(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver
) -> None:
    """The old endpoint's URL answers 410 to the POST on its way while the id is deleted and made again: the new
    endpoint is not disabled by it (nor counted the old one's successes)."""
    runtime = await make_runtime()
    hook, gate = await _a_run_held_at_its_first_post(runtime, receiver, "/old", results=1, status=410)
    assert await runtime.store.delete_webhook("hook")
    await add_endpoint(runtime.store, "hook", receiver.answer("/new"), created_at=hook.created_at + 1)
    gate.set()
    await _run_over(runtime)
    stored = await runtime.store.get_webhook("hook")
    assert stored is not None and stored.url.endswith("/new")
    assert (stored.state, stored.reason, stored.failing_since) == (ENDPOINT_ACTIVE, None, None)
    await submit(runtime.store, receiver, "b")
    await receiver.wait_for(lambda: len(receiver.at("/new")) == 1)
