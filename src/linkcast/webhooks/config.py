"""What a client asks of a webhook, checked: ``{"url", "events", "request_ids"}`` on ``PUT /webhooks/<id>``, and
``{"url", "events"}`` as the ``webhook`` field of ``PUT /urls``, ``/crawls`` and ``/feeds``.

The URL passes the address policy now (what can be judged without resolving: a refused IP literal or name is a 400
here; the web layer then resolves its name, ``fetch.dns.refuse_resolved``), and again on every attempt, where its
resolved addresses are checked too (``fetch``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from linkcast.core.errors import Blocked, InvalidInput
from linkcast.core.inputs import validate_request_id, validate_url
from linkcast.core.policy import AddressPolicy
from linkcast.core.webhooks import DEFAULT_EVENTS, ENDPOINT_ID_PATTERN, EVENT_TYPES, MAX_REQUEST_IDS, SCOPED_ID

SUBSCRIPTION_OPTIONS = ("url", "events")
ENDPOINT_OPTIONS = ("url", "events", "request_ids")


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str
    events: list[str]
    request_ids: list[str] | None = None


def validate_endpoint_id(endpoint_id: str, *, creating: bool = False) -> str:
    if not ENDPOINT_ID_PATTERN.fullmatch(endpoint_id) or endpoint_id in (".", ".."):
        raise InvalidInput(
            "a webhook id must be 1 to 140 characters from A-Z a-z 0-9 . _ ~ -", code="invalid_webhook_id"
        )
    if creating and SCOPED_ID.fullmatch(endpoint_id):
        raise InvalidInput(
            "webhook ids starting with 'urls~', 'crawls~' or 'feeds~' name the webhooks made with a request",
            code="invalid_webhook_id",
        )
    return endpoint_id


def parse_config(value: object, scope: str, policy: AddressPolicy) -> WebhookConfig:
    """``value`` checked for ``scope`` (``urls``, ``crawls``, ``feeds`` or ``webhooks``), with its defaults."""
    where = "the body" if scope == "webhooks" else "'webhook'"
    options = ENDPOINT_OPTIONS if scope == "webhooks" else SUBSCRIPTION_OPTIONS
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be an object: {{\"url\": \"https://...\", \"events\": [...]}}",
                           code="invalid_webhook")  # fmt: skip
    unknown = sorted(set(value) - set(options))
    if unknown:
        raise InvalidInput(f"unknown option {unknown[0]!r} in {where}: the options are {', '.join(options)}",
                           code="unknown_option")  # fmt: skip
    if "url" not in value:
        raise InvalidInput(f"{where} has no 'url'", code="missing_url")
    with webhook_url_named(scope):
        url = validate_url(value["url"])
        policy.check_url(url)
    return WebhookConfig(url, _events(value.get("events"), scope), _request_ids(value.get("request_ids")))


@contextlib.contextmanager
def webhook_url_named(scope: str) -> Iterator[None]:
    """A request's webhook URL refused (``scope``: ``urls``, ``crawls``, ``feeds``) says it is the webhook's: the
    request's own URL is "url" too, and "'url' must use http or https" left the user to guess which."""
    try:
        yield
    except (InvalidInput, Blocked) as refused:
        if scope == "webhooks":
            raise
        raise type(refused)(f"webhook: {refused.message}", code=refused.code) from None


def _events(value: Any, scope: str) -> list[str]:
    if value is None:
        return list(DEFAULT_EVENTS[scope])
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidInput("'events' must be a non-empty list of event types", code="invalid_events")
    unknown = [v for v in value if v not in EVENT_TYPES]
    if unknown:
        raise InvalidInput(f"unknown event type {unknown[0][:100]!r}: the types are {', '.join(sorted(EVENT_TYPES))}",
                           code="invalid_events")  # fmt: skip
    return list(dict.fromkeys(value))


def _request_ids(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_REQUEST_IDS:
        raise InvalidInput(f"'request_ids' must be a list of 1 to {MAX_REQUEST_IDS} ids, or null (every request)",
                           code="invalid_request_ids")  # fmt: skip
    if not all(isinstance(v, str) for v in value):
        raise InvalidInput("'request_ids' must hold strings", code="invalid_request_ids")
    return list(dict.fromkeys(validate_request_id(v) for v in value))
