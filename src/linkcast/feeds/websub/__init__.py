"""WebSub (W3C Recommendation, 2018) for watched feeds: subscribing to the hub a feed names, verifying the hub's
intent, taking its signed deliveries, renewing leases, unsubscribing when a feed is removed or gone (410).

- ``lifecycle``: a subscription's states and the decisions between them, pure.
- ``subscriptions``: what a poll's discovery starts, and how a subscription slows polling.
- ``hub_requests``: the form POST to a hub, through the shared fetcher and its SSRF guard.
- ``jobs``: the ``websub`` job that asks the hub (subscribe, renew, unsubscribe) and gives up on silent hubs.
- ``callbacks``: what the callback URL answers (verification, distribution), on any replica.
- ``signature``: ``X-Hub-Signature``.
"""

from __future__ import annotations

from linkcast.feeds.websub.callbacks import Callbacks, Reply
from linkcast.feeds.websub.jobs import WebSubJobs
from linkcast.feeds.websub.subscriptions import Subscriptions

__all__ = ["Callbacks", "Reply", "Subscriptions", "WebSubJobs"]
