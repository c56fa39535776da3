"""The store interface: requests and their jobs, and the append-only event log.

Every backend keeps the same promises, proven by one contract test suite (``tests/store/test_contract.py``):

- ``submit`` records a request, queues its job and appends its ``accepted`` event, or returns the existing record
  (same id, same URL) or raises ``Conflict`` (same id, other URL).
- A job handed out by ``next_job`` stays owned until ``finish`` or ``release``; a job whose owner died is handed out
  again (at-least-once), but ``finish`` appends a terminal event only once per request (exactly-once to clients).
- Event ids strictly increase; ``events_after`` and ``wait_events`` read the log in id order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection

from linkcast.core.events import Event, EventBody, Job, RequestRecord
from linkcast.settings import Settings


class Store(ABC):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def open(self) -> None:
        """Connect, create what is missing, and return jobs left running by a crash to the queue."""

    async def close(self) -> None:
        """Release connections; jobs still owned stay recoverable."""

    @abstractmethod
    async def submit(self, request_id: str, url: str) -> tuple[RequestRecord, bool]:
        """Accept a request: ``(record, True)`` when new, ``(existing, False)`` for a repeat; ``Conflict`` if taken."""

    @abstractmethod
    async def get_request(self, request_id: str) -> RequestRecord | None:
        """The request's record, or None for an unknown id."""

    @abstractmethod
    async def next_job(self, worker_id: str, timeout: float) -> Job | None:
        """Hand out the oldest queued job and mark it running, or return None after ``timeout`` seconds."""

    @abstractmethod
    async def start(self, job: Job, body: EventBody) -> Event:
        """Append the job's ``started`` event."""

    @abstractmethod
    async def finish(self, job: Job, body: EventBody) -> Event | None:
        """Store the terminal event, finish the record and acknowledge the job, atomically.

        Returns None (and appends nothing) when the request already has its terminal event.
        """

    @abstractmethod
    async def release(self, job: Job) -> None:
        """Give an unfinished job back to the queue (a draining worker)."""

    @abstractmethod
    async def events_after(
        self,
        since: int,
        request_ids: Collection[str] | None = None,
        limit: int = 1000,
        until: int | None = None,
    ) -> list[Event]:
        """Up to ``limit`` retained events with ``since < id <= until``, oldest first, optionally of some requests."""

    @abstractmethod
    async def wait_events(self, after: int, timeout: float) -> list[Event]:
        """Events after ``after``, waiting up to ``timeout`` seconds for the first one (the hub's tail)."""

    @abstractmethod
    async def last_event_id(self) -> int:
        """The id of the newest event, 0 for an empty log."""

    @abstractmethod
    async def first_event_id(self) -> int:
        """The id of the oldest retained event, or the next id to be given when the log is empty."""

    @abstractmethod
    async def queue_depth(self) -> int:
        """Jobs waiting to be taken."""

    @abstractmethod
    async def prune(self, older_than: float, keep_events: int) -> int:
        """Drop events and finished requests older than the ``older_than`` timestamp, and beyond the newest
        ``keep_events`` of each (retention applies the same settings to both); return how many events were dropped.

        Requests still queued or running are never dropped."""
