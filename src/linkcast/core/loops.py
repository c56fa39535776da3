"""Loops through linkcast itself: every request linkcast sends (a fetch, a webhook delivery, a WebSub hub request)
carries ``CDN-Loop: linkcast`` (RFC 8586, the header intermediaries use to find their own loops), and its API refuses a
submission that carries it.

A webhook aimed at linkcast's own ``POST /urls`` turned each event into a new request and each request into new
events, without end; a hub or a page could do the same with any route that changes something. A name, a proxy or
a load balancer in front of linkcast hides that the target is linkcast itself; the header goes through all of them.
"""

from __future__ import annotations

from collections.abc import Iterable

LOOP_HEADER = "CDN-Loop"
LOOP_ID = "linkcast"


def sent_by_linkcast(values: Iterable[str]) -> bool:
    """Whether a request's ``CDN-Loop`` field values name linkcast (``linkcast``, ``cdn.example, linkcast;v=1``)."""
    return any(info.split(";", 1)[0].strip().lower() == LOOP_ID for value in values for info in value.split(","))
