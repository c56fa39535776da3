"""Asking a hub (WebSub 5.1): a form POST of ``hub.mode``, ``hub.topic``, ``hub.callback`` and, to subscribe,
``hub.lease_seconds`` and ``hub.secret``. Through the shared fetcher: the SSRF guard checks every hop, and only 307
and 308 are followed (the same POST to the new place). A 2xx (202 Accepted, usually) means the hub will verify."""

from __future__ import annotations

from urllib.parse import quote

from linkcast.core.errors import LinkcastError
from linkcast.core.websub import MODE_SUBSCRIBE, Subscription
from linkcast.fetch import Fetcher

ANSWER_BYTES = 4096  # of a hub's answer, read to say why it refused


def callback_url(public_url: str, sub: Subscription) -> str:
    return f"{public_url.rstrip('/')}/websub/{quote(sub.feed_id, safe='')}/{sub.callback}"


async def ask_hub(fetcher: Fetcher, sub: Subscription, mode: str, public_url: str, lease: int) -> str | None:
    """Send ``mode`` for ``sub`` to its hub: None if the hub accepted it, else why not (one line)."""
    form = {"hub.mode": mode, "hub.topic": sub.topic, "hub.callback": callback_url(public_url, sub)}
    if mode == MODE_SUBSCRIBE:
        form |= {"hub.lease_seconds": str(lease), "hub.secret": sub.secret}
    try:
        answer = await fetcher.post_form(sub.hub, form, max_bytes=ANSWER_BYTES)
    except LinkcastError as error:  # its message may quote where the hub redirected: the hub's own words
        return _without_secrets(f"the hub could not be asked ({error.code}): {error.message}", sub)
    if 200 <= answer.status_code < 300:
        return None
    said = _without_secrets(" ".join(answer.body.decode("utf-8", "replace").split()), sub)[:200]
    return f"the hub answered {answer.status_code}" + (f": {said}" if said else "")


def _without_secrets(text: str, sub: Subscription) -> str:
    """``text`` (from the hub: its answer, or a redirect it sent) without the callback token nor the secret: a hub
    that quotes the request it refuses would put them in the subscription's ``reason``, which the API shows and the
    log writes. (Both are URL-safe, so the form's encoding leaves them as they are.)"""
    for secret in (sub.secret, sub.callback):
        if secret:
            text = text.replace(secret, "***")
    return text
