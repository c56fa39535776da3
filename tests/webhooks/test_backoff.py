"""The retry schedule: doubling from the base, jittered between half and all of each step, never past an hour."""

from __future__ import annotations

import random

from linkcast.webhooks.backoff import MAX_WAIT_SECONDS, retry_delay


def test_each_wait_doubles_within_its_jitter_and_stops_at_an_hour() -> None:
    rng = random.Random(7)
    for attempts in range(1, 40):
        step = min(MAX_WAIT_SECONDS, 5.0 * 2 ** (attempts - 1))
        waits = [retry_delay(attempts, 5.0, rng) for _ in range(50)]
        assert all(step / 2 <= wait <= step for wait in waits)
        assert max(waits) - min(waits) > step / 10, "jittered, so endpoints do not retry in step"
