"""Endpoints made and changed by the API: ``PUT /webhooks/<id>``, a rotation of its secret, a retried delivery, and
the ``webhook`` field of a request (``PUT /urls``, ``/crawls``, ``/feeds``), which makes the endpoint
``<scope>~<request id>`` watching that request alone.

An endpoint is made before its request is submitted, with its cursor at the log's end: the request's first event
comes after it. A secret is shown once, in the answer that made (or rotated) it.
"""

from __future__ import annotations

import dataclasses
import time

from linkcast.core.errors import Conflict, NotFound
from linkcast.core.webhooks import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    ENDPOINT_ACTIVE,
    GAP,
    Delivery,
    Endpoint,
    new_secret,
    scoped_endpoint_id,
)
from linkcast.store.base import Store
from linkcast.webhooks.config import WebhookConfig

SAVE_TRIES = 5


async def put_endpoint(
    store: Store, endpoint_id: str, config: WebhookConfig, max_endpoints: int
) -> tuple[Endpoint, bool]:
    """Make the endpoint (``True``: its secret is new), or change its URL, events and requests, keeping its secret;
    either way it is active again (a disabled one is re-enabled: its pending deliveries go on). A new one past
    ``max_endpoints`` (``--max-webhooks``; 0: no bound) is a ``Conflict``: every endpoint is one POST more for each
    event it takes, so their number bounds how many POSTs one submission can cause. Checked before the endpoint is
    stored, so creations racing each other may pass it by as many as raced."""
    for _ in range(SAVE_TRIES):
        current = await store.get_webhook(endpoint_id)
        if current is None:
            if max_endpoints and await store.count_webhooks() >= max_endpoints:
                raise Conflict(
                    f"this server keeps at most {max_endpoints} webhook endpoints (--max-webhooks): delete one, or "
                    "change one with a PUT to its id",
                    code="too_many_webhooks",
                )
            made = Endpoint(endpoint_id, config.url, config.events, new_secret(), config.request_ids,
                            created_at=time.time(), cursor=await store.last_event_id())  # fmt: skip
            if await store.save_webhook(made, 0):
                return await _stored(store, endpoint_id), True
            continue
        changed = dataclasses.replace(current, url=config.url, events=config.events, request_ids=config.request_ids)
        if _enabled(changed) == current:
            # The same PUT again (or one that raced this one stored it first): nothing to change, and no write that
            # could lose to another one's, so that a repeat is a 200 whatever runs beside it.
            return current, False
        if await store.save_webhook(_enabled(changed), current.version):
            await store.wake_webhook(endpoint_id)
            return await _stored(store, endpoint_id), False
    raise Conflict(f"webhook {endpoint_id!r} is being changed by another request: try again")


def _enabled(endpoint: Endpoint) -> Endpoint:
    return dataclasses.replace(endpoint, state=ENDPOINT_ACTIVE, reason=None, failing_since=None)


async def _stored(store: Store, endpoint_id: str) -> Endpoint:
    found = await store.get_webhook(endpoint_id)
    if found is None:
        raise NotFound(f"no webhook with id {endpoint_id!r} (it was just deleted)")
    return found


async def rotate_secret(store: Store, endpoint_id: str) -> Endpoint:
    """A new secret; the old one still signs beside it for ``ROTATION_GRACE_SECONDS``, and those rotated out before
    it until their own grace ends."""
    for _ in range(SAVE_TRIES):
        current = await store.get_webhook(endpoint_id)
        if current is None:
            raise NotFound(f"no webhook with id {endpoint_id!r}")
        rotated = current.rotated(new_secret(), time.time())
        if await store.save_webhook(rotated, current.version):
            return rotated
    raise Conflict(f"webhook {endpoint_id!r} is being changed by another request: try again")


async def retry_delivery(store: Store, endpoint_id: str, event_id: int) -> Delivery:
    """A failed delivery pending again, due now; its endpoint re-enabled if it was disabled."""
    found = await store.get_webhook_delivery(endpoint_id, event_id)
    if found is None:
        raise NotFound(f"webhook {endpoint_id!r} has no delivery {event_id}")
    if found.event_type == GAP:
        raise Conflict("those events were pruned: there is nothing to send again")
    if found.state != DELIVERY_FAILED:
        raise Conflict(f"delivery {event_id} is {found.state}: only a failed delivery can be retried")
    again = dataclasses.replace(found, state=DELIVERY_PENDING, next_try=time.time())
    await store.save_webhook_delivery(again)
    for _ in range(SAVE_TRIES):
        current = await store.get_webhook(endpoint_id)
        if current is None or current.state == ENDPOINT_ACTIVE:
            break
        if await store.save_webhook(_enabled(current), current.version):
            break
    await store.wake_webhook(endpoint_id)
    return again


async def subscribe(store: Store, scope: str, request_id: str, config: WebhookConfig) -> tuple[Endpoint, bool]:
    """The endpoint of a request's ``webhook`` field: made (True) or, for a repeat, the same one as before; a repeat
    asking for another webhook than the one made is a ``Conflict``. Either way it is answered with the version it was
    stored at: one found is stored again (a new version), so that a request that made it and was refused meanwhile,
    or the pruning of endpoints left over, removes it only if nobody took it up since (``delete_webhook`` of that
    version); one removed first is made again."""
    endpoint_id = scoped_endpoint_id(scope, request_id)
    for _ in range(SAVE_TRIES):
        current = await store.get_webhook(endpoint_id)
        if current is not None:
            if (current.url, current.events) != (config.url, config.events):
                raise Conflict(f"{scope} {request_id!r} already has another webhook ({endpoint_id!r})")
            if await store.save_webhook(current, current.version):
                return dataclasses.replace(current, version=current.version + 1), False
            # Stored by another request since it was read (a repeat of this one, sent at once): its version has moved
            # past the one read, which is what storing it was for. Only one removed and made again is looked at anew.
            again = await store.get_webhook(endpoint_id)
            if again is not None and again.version > current.version:
                if (again.url, again.events) != (config.url, config.events):
                    raise Conflict(f"{scope} {request_id!r} already has another webhook ({endpoint_id!r})")
                return again, False
            continue
        made = Endpoint(endpoint_id, config.url, config.events, new_secret(), [request_id], created_at=time.time(),
                        cursor=await store.last_event_id())  # fmt: skip
        if await store.save_webhook(made, 0):
            return dataclasses.replace(made, version=1), True
    raise Conflict(f"the webhook of {scope} {request_id!r} is being made by another request: try again")


def shown(endpoint: Endpoint, created: bool) -> dict[str, str]:
    """The ``webhook`` of a request's answer: the endpoint's id, and its secret once, when it was made."""
    return {"id": endpoint.endpoint_id, "secret": endpoint.secret} if created else {"id": endpoint.endpoint_id}
