"""The event model: what the log stores and what WebSocket clients receive.

An event's body is serialised to JSON once, when it is created; its JSON text (the body with the event's ``id`` in
front) is built once, when the log gives it an id, and then sent as is to every client (``frames.Frame`` wraps it in
a WebSocket frame).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from linkcast.core.errors import LinkcastError

# Event types. Clients ignore types they do not know.
ACCEPTED = "accepted"
STARTED = "started"
RESULT = "result"
ERROR = "error"
TERMINAL_TYPES = frozenset({RESULT, ERROR})

# Request states, as GET /urls/<id> reports them.
QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
FINISHED_STATES = frozenset({DONE, FAILED})

# WebSocket close codes the server sends. A token or an Origin is refused at the handshake, with an HTTP answer,
# never by closing; 4000-4999 are the application's own.
CLOSE_INTERNAL_ERROR = 1011  # the server failed this client (a replay that could not be read, a failed write)
CLOSE_TRY_AGAIN_LATER = 1013  # the store is unreachable: reconnect with since a little later
CLOSE_TOO_SLOW = 4008

# Handshake header of the stream: the connection delivers every event after this id (its ``since``, or where live
# delivery began), so a client that saw no event yet still knows where to resume.
STREAM_SINCE_HEADER = "Linkcast-Since"


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the event log, with its JSON text (the id first) ready to send."""

    id: int
    type: str
    request_id: str
    json: str

    @property
    def is_terminal(self) -> bool:
        return self.type in TERMINAL_TYPES

    def body(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.json)
        return parsed


@dataclass(frozen=True, slots=True)
class EventBody:
    """An event before the log has given it an id: its type, request and serialised JSON object."""

    type: str
    request_id: str
    data: bytes

    def framed(self, event_id: int) -> Event:
        """Prefix the stored body with its id without serialising it again."""
        return Event(event_id, self.type, self.request_id, f'{{"id":{event_id},' + self.data[1:].decode())


def make_body(event_type: str, request_id: str, url: str, **fields: Any) -> EventBody:
    payload = {"type": event_type, "request_id": request_id, "url": url, **fields}
    return EventBody(event_type, request_id, orjson.dumps(payload))


def accepted_body(request_id: str, url: str, *, retry: bool = False) -> EventBody:
    """A request accepted, or accepted again (``retry``: a failed request submitted anew)."""
    return make_body(ACCEPTED, request_id, url, retry=True) if retry else make_body(ACCEPTED, request_id, url)


def started_body(request_id: str, url: str, attempt: int) -> EventBody:
    return make_body(STARTED, request_id, url, attempt=attempt)


def result_body(
    request_id: str,
    url: str,
    *,
    final_url: str,
    status_code: int,
    links: list[str],
    links_truncated: bool,
    timings: dict[str, float],
    **extra: Any,
) -> EventBody:
    """A request's result; ``extra`` names what it came from, if anything (a feed's entry: ``feed_id``,
    ``entry_id``)."""
    return make_body(
        RESULT,
        request_id,
        url,
        final_url=final_url,
        status_code=status_code,
        links=links,
        links_truncated=links_truncated,
        timings=timings,
        **extra,
    )


def error_body(
    request_id: str, url: str, error: LinkcastError, *, timings: dict[str, float], **extra: Any
) -> EventBody:
    return make_body(ERROR, request_id, url, error=error.to_dict(), timings=timings, **extra)


def history_truncated_frame(first_available_id: int) -> str:
    """Sent first to a client whose ``since`` is older than the retained history: it has missed events."""
    return orjson.dumps(
        {
            "type": "history_truncated",
            "first_available_id": first_available_id,
            "message": f"events before {first_available_id} are no longer retained",
        }
    ).decode()


@dataclass(slots=True)
class RequestRecord:
    """What the store knows of one request; ``outcome`` is the terminal event's body once it has one."""

    request_id: str
    url: str
    state: str = QUEUED
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 0
    outcome: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "request_id": self.request_id,
            "url": self.url,
            "state": self.state,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "attempts": self.attempts,
        }
        if self.outcome is not None:
            for key in ("final_url", "status_code", "links", "links_truncated", "timings", "error"):
                if key in self.outcome:
                    answer[key] = self.outcome[key]
        return answer

    def summary(self) -> dict[str, Any]:
        """``to_dict`` without the links (a list of requests stays small), with their count instead."""
        answer = self.to_dict()
        links = answer.pop("links", None)
        if links is not None:
            answer["link_count"] = len(links)
        return answer


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing, oldest first; ``next`` is the cursor that reads the page after it (None: no more)."""

    items: list[Any]
    next: str | None


# Job kinds: what a worker does with a job.
PAGE_JOB = "page"  # a single request (PUT /urls): one result or error event
CRAWL_JOB = "crawl"  # one URL of a crawl: a page or skipped event, and the links it leads to
FEED_JOB = "feed"  # one poll of a watched feed: its new entries, and its next poll
WEBSUB_JOB = "websub"  # a feed's WebSub subscription: ask its hub to subscribe, renew or unsubscribe
WEBHOOK_JOB = "webhook"  # a webhook endpoint's outbox: read new events into it, deliver what is due, in order


@dataclass(frozen=True, slots=True)
class Job:
    """A unit of work handed to a worker: its kind, the request (or crawl) it belongs to, its URL, the attempt it
    is, the backend's handle to acknowledge it (``receipt``), and what its kind needs besides (``data``).

    ``preread``: what the job's handler would read from the store first, read by the backend in the claim's own
    transaction, in a one-tuple (None: not read, the handler reads it): for a feed job, what
    ``get_feed_and_subscription`` answers, for a crawl's, ``get_crawl``. The job then needs no store round trip before
    it fetches."""

    request_id: str
    url: str
    attempt: int
    receipt: str = ""
    kind: str = PAGE_JOB
    data: dict[str, Any] = field(default_factory=dict)
    preread: tuple[Any] | None = field(default=None, compare=False, repr=False)
