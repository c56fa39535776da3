"""``/websub/<feed_id>/<token>``: the callback WebSub hubs call (not for clients: described so that nothing served is
undocumented)."""

from __future__ import annotations

from linkcast.web.openapi.answers import RETRY_AFTER, answer, error
from linkcast.web.openapi.group import RouteGroup

CALLBACK_PARAMETERS = [
    {"name": "feed_id", "in": "path", "required": True, "schema": {"type": "string"}},
    {
        "name": "token",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "the subscription's own callback token",
    },
]
QUERY = [
    {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
    for name in ("hub.mode", "hub.topic", "hub.challenge", "hub.lease_seconds", "hub.reason")
]
TEXT = {"type": "string"}

WEBSUB = RouteGroup(
    tag="websub",
    description="The callback of WebSub subscriptions, called by hubs (started with --public-url). Public: the "
    "callback's token and each delivery's X-Hub-Signature stand for a bearer token.",
    operations={
        "/websub/<feed_id>/<token>": {
            "get": {
                "summary": "A hub verifies a subscription, an unsubscription, or says it denied one",
                "parameters": [*CALLBACK_PARAMETERS, *QUERY],
                "responses": {
                    "200": answer("the hub.challenge, echoed (empty for a denial)", "text/plain", TEXT),
                    "404": error("no pending request of this subscription has this mode and topic"),
                    "503": error("the subscription was changing; the hub may verify again"),
                },
            },
            "post": {
                "summary": "A hub delivers the feed's new content, signed with the subscription's secret",
                "parameters": CALLBACK_PARAMETERS,
                "requestBody": {
                    "required": False,
                    "content": {"*/*": {"schema": {"description": "the feed, as the hub has it"}}},
                },
                "responses": {
                    "202": answer(
                        "received (a badly signed body, or one of another topic, is dropped and counted)",
                        "text/plain",
                        TEXT,
                    ),
                    "403": error("no X-Hub-Signature, though the subscription was made with a secret (dropped)"),
                    "410": error("no subscription has this callback (any more): the hub should stop"),
                    "413": error("the body is larger than --max-body-bytes"),
                    "429": error("the feed took as many pushed entries as polls could bring for now: deliver later"),
                    "503": error(
                        "the processes reading large feeds for requests are all busy, or this server reads as many "
                        "deliveries larger than an API body as --websub-memory-bytes allows ('busy'): deliver later",
                        RETRY_AFTER,
                    ),
                },
            },
        },
    },
    schemas={},
)
