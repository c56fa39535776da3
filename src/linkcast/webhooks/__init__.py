"""Webhooks: events POSTed to users' servers, signed (Standard Webhooks), retried, in order, durably.

``outbox`` feeds each endpoint's outbox from the event log through its cursor; ``jobs`` runs an endpoint's job
(deliver what is due); ``attempt`` is one signed POST and what its answer means; ``waker`` queues the jobs of the
endpoints whose events arrive; ``subscriptions`` makes endpoints from the API's requests. The model is in
``core/webhooks.py``; the store keeps endpoints, outboxes and jobs (``Store.save_webhook`` and after).
"""

from linkcast.webhooks.jobs import WebhookJobs
from linkcast.webhooks.waker import WebhookWaker

__all__ = ["WebhookJobs", "WebhookWaker"]
