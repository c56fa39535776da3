"""How many bytes of large webhook payloads one process holds for sending at once, whatever the endpoints.

A result may hold 8 MiB of links, and every endpoint that takes it gets a delivery of it: a run holds the payload,
and the body sent, until its endpoint answers or ``--webhook-timeout`` passes. Endpoints that never answer (anyone may
make 100, on as many ports) kept ``--webhook-concurrency`` (64) such runs waiting at once: 2.7 GB. So a run keeps in
hand only the payloads up to ``LARGE_PAYLOAD_BYTES`` of its outbox; a larger one is read again from the store for its
attempt, once it has its share of one budget per process (``--webhook-memory-bytes``), and its share comes back when
the attempt is recorded. A delivery that waits for its share holds nothing; small deliveries never wait.
"""

from __future__ import annotations

import dataclasses

from linkcast.core.webhooks import Delivery

# Payloads kept in hand by a run, in all: ordinary events (a result of 100 links is some 10 KB) never wait.
LARGE_PAYLOAD_BYTES = 1024 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class Due:
    """A pending delivery as a run keeps it: whole, or without its payload (``size`` bytes, read again to send)."""

    delivery: Delivery
    size: int  # 0: the payload is in hand

    @property
    def in_hand(self) -> bool:
        return self.size == 0


def keep_in_hand(pending: list[Delivery]) -> list[Due]:
    """``pending`` with the payloads past the first ``LARGE_PAYLOAD_BYTES`` in all let go of."""
    kept, due = 0, []
    for delivery in pending:
        size = len(delivery.payload)
        if kept + size <= LARGE_PAYLOAD_BYTES:
            kept += size
            due.append(Due(delivery, 0))
        else:
            due.append(Due(dataclasses.replace(delivery, payload=""), size))
    return due
