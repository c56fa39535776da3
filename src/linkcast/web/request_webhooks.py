"""The ``webhook`` field of ``PUT /urls``, ``/crawls`` and ``/feeds``: the request's own endpoint is made first (its
cursor before the request's first event), then the request; if the request is refused, the endpoint made for it is
removed. The answer carries ``"webhook": {"id", "secret"}``, the secret only in the answer that made the endpoint or
the request (201). The endpoint may be older than its request: left by an attempt that failed after making it (a
process killed between the two, a store that failed the removal too) or by a removed feed of the same id. Its secret
signs this request's events, so whoever made the request must get it; a repeat (200) does not."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from quart import Response

from linkcast.fetch.dns import refuse_resolved
from linkcast.web.current import runtime
from linkcast.web.responses import json_response
from linkcast.webhooks.config import WebhookConfig, parse_config, webhook_url_named
from linkcast.webhooks.subscriptions import shown, subscribe


def pop_webhook(payload: dict[str, Any], scope: str) -> WebhookConfig | None:
    """The body's ``webhook``, checked, and taken out of it (the rest is the request's own options)."""
    if "webhook" not in payload:
        return None
    return parse_config(payload.pop("webhook"), scope, runtime().fetcher.policy)


async def with_webhook(
    scope: str, request_id: str, config: WebhookConfig | None, start: Callable[[], Awaitable[Response]]
) -> Response:
    if config is None:
        return await start()
    with webhook_url_named(scope):
        await refuse_resolved(runtime().fetcher.policy, config.url)
    store = runtime().store
    endpoint, created = await subscribe(store, scope, request_id, config)
    try:
        response = await start()
    except BaseException:
        if created:  # best effort: the request's own error is the answer, and a left endpoint is pruned later
            with contextlib.suppress(Exception):  # not if another request of the id took it up meanwhile
                await store.delete_webhook(endpoint.endpoint_id, endpoint.version)
        raise
    answer = orjson.loads(await response.get_data())
    answer["webhook"] = shown(endpoint, created or response.status_code == 201)
    headers = {"Location": response.headers["Location"]} if "Location" in response.headers else None
    return json_response(answer, response.status_code, headers)
