"""When a failed delivery is tried again: exponential back-off with full jitter (half to all of the step), so that
the endpoints of a receiver that came back do not all retry in the same second."""

from __future__ import annotations

import random

# The longest wait between two attempts, whatever the base and the count.
MAX_WAIT_SECONDS = 3600.0


def retry_delay(attempts: int, base: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: ``base``, twice that, four times... up to an hour,
    each between half and all of its step."""
    step = min(MAX_WAIT_SECONDS, base * 2.0 ** min(max(0, attempts - 1), 30))
    return step * (0.5 + 0.5 * (rng or random).random())
