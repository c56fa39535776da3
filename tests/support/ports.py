"""Free loopback ports, for the tests' servers and the benches' alike (``bench/`` imports this one)."""

from __future__ import annotations

import random
import socket


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768-60999).

    Services restart on the same port. A port from the ephemeral range (what binding port 0 gives) can be taken
    while the server is down by any outgoing connection on the machine, and the restart then fails to bind; ports
    below the range are only ever taken by an explicit bind.
    """
    for _ in range(200):
        port = random.randrange(20_000, 32_000)
        if not port_taken(port):
            return port
    raise RuntimeError("no free port between 20000 and 32000")


def port_taken(port: int) -> bool:
    """Whether something listens on (or holds) this loopback port now."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False
