"""The fair scheduler in plain Python, for the in-memory store: the same rules as ``sqlite/scheduler.py`` and the
Redis scripts, which say them in SQL and Lua.

Start-time fair queuing by host and by flow (``core/flows.py``: whom the job is queued for). A job due now takes
the next place in its host's sequence, ``max(host's last, virtual time) + 1``, and the next in its flow's,
``max(flow's last, virtual time) + 1``; its tag is the later of the two. The virtual time is the highest tag taken so
far. A claim takes the lowest tag among the hosts with room (fewer running than their concurrency) and due (their
spacing since the last start has passed). A host with a ``Crawl-delay`` in force runs one job at a time, that far
apart. So a client with 1,000 URLs on 1,000 hosts has its jobs tagged one after another, and another client's single
URL, tagged just past the virtual time, runs among the next; a host with 10,000 jobs of any flows gets its share.

Why two sequences, not one tag that both the host and the flow remember: a host's last would then carry its flow's
place, and a job of another flow on that host would wait behind the whole flow (a client's batch of 1,000 URLs whose
last one is on a popular host would hold every other client's URL of that host until the batch ran). A flow whose
last place is not past the virtual time is the same as none, so it is forgotten (bounded).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any

from linkcast.core.events import Job
from linkcast.core.flows import NO_FLOW


@dataclass
class _Entry:
    kind: str
    request_id: str
    url: str
    host: str
    data: dict[str, Any]
    not_before: float
    tag: int | None = None
    owner: str | None = None
    lease_until: float = 0.0
    attempts: int = 0
    flow: str = NO_FLOW


@dataclass
class _Host:
    ready: list[tuple[int, int]] = field(default_factory=list)  # heap of (tag, job id), unowned jobs only
    running: int = 0
    next_start: float = 0.0
    last_tag: int = 0
    delay: float = 0.0
    delay_until: float = 0.0


class FairQueue:
    def __init__(self, concurrency: int, delay: float) -> None:
        self.concurrency = max(1, concurrency)
        self.delay = max(0.0, delay)
        self.virtual_time = 0
        self._jobs: dict[int, _Entry] = {}
        self._identity: dict[tuple[str, str, str], int] = {}
        self._hosts: dict[str, _Host] = {}
        self._flows: dict[str, int] = {}  # flow -> its last place (one not past the virtual time is as none)
        self._flows_after_forgetting = 0
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._jobs)

    def queued(self) -> int:
        return sum(1 for entry in self._jobs.values() if entry.owner is None)

    def enqueue(
        self, kind: str, request_id: str, url: str, host: str, now: float, data: dict[str, Any] | None = None,
        not_before: float = 0.0, flow: str = NO_FLOW,
    ) -> bool:  # fmt: skip
        """Queue a job of ``flow``; False if the same job (kind, request, URL) is queued already."""
        identity = (kind, request_id, url)
        if identity in self._identity:
            return False
        job_id = next(self._ids)
        self._identity[identity] = job_id
        self._jobs[job_id] = _Entry(kind, request_id, url, host, data or {}, not_before, flow=flow)
        if not_before <= now:
            self._make_ready(job_id)
        return True

    def _make_ready(self, job_id: int) -> None:
        entry = self._jobs[job_id]
        host = self._hosts.setdefault(entry.host, _Host())
        if entry.tag is None:
            host.last_tag = entry.tag = max(host.last_tag, self.virtual_time) + 1
            if entry.flow != NO_FLOW:
                place = self._flows[entry.flow] = max(self._flows.get(entry.flow, 0), self.virtual_time) + 1
                entry.tag = max(entry.tag, place)
        heapq.heappush(host.ready, (entry.tag, job_id))

    def claim(self, owner: str, now: float, lease_until: float) -> Job | None:
        self._reclaim_lapsed(now)
        for job_id, entry in list(self._jobs.items()):
            if entry.tag is None and entry.not_before <= now:
                self._make_ready(job_id)
        best: tuple[int, str] | None = None
        for name, host in self._hosts.items():
            self._drop_stale(host)
            startable = host.ready and host.next_start <= now and host.running < self._room(host, now)
            if startable and (best is None or host.ready[0][0] < best[0]):
                best = (host.ready[0][0], name)
        if best is None:
            return None
        host = self._hosts[best[1]]
        tag, job_id = heapq.heappop(host.ready)
        entry = self._jobs[job_id]
        entry.owner, entry.lease_until = owner, lease_until
        entry.attempts += 1
        host.running += 1
        spacing = max(self.delay, host.delay if host.delay_until > now else 0.0)
        if spacing > 0:  # none: the host's next start stays in the past, not at a time a clock stepping back moves
            host.next_start = now + spacing
        self.virtual_time = max(self.virtual_time, tag)
        self._forget_passed_flows()
        return Job(entry.request_id, entry.url, entry.attempts, f"{job_id}/{owner}", entry.kind, dict(entry.data))

    def _forget_passed_flows(self) -> None:
        """Drop the flows the virtual time has passed (bounded), once their number has doubled since the last time:
        a pass over every flow on each claim cost the hot path as much as the flows were many."""
        if len(self._flows) <= 2 * self._flows_after_forgetting + 64:
            return
        self._flows = {flow: last for flow, last in self._flows.items() if last > self.virtual_time}
        self._flows_after_forgetting = len(self._flows)

    def _room(self, host: _Host, now: float) -> int:
        return 1 if host.delay > 0 and host.delay_until > now else self.concurrency

    def _drop_stale(self, host: _Host) -> None:
        """Heap entries of jobs that were removed or taken (lazy deletion)."""
        while host.ready and (host.ready[0][1] not in self._jobs or self._jobs[host.ready[0][1]].owner is not None):
            heapq.heappop(host.ready)

    def _reclaim_lapsed(self, now: float) -> None:
        for job_id, entry in self._jobs.items():
            if entry.owner is not None and entry.lease_until < now:
                entry.owner = None
                self._hosts[entry.host].running -= 1
                self._make_ready(job_id)

    def wake_hint(self, now: float) -> float | None:
        times = [host.next_start for host in self._hosts.values() if host.ready and host.next_start > now]
        times += [entry.not_before for entry in self._jobs.values() if entry.tag is None]
        times += [entry.lease_until for entry in self._jobs.values() if entry.owner is not None]
        return min(times) if times else None

    def _holder(self, job: Job) -> tuple[int, _Entry | None]:
        job_id, _, owner = job.receipt.partition("/")
        entry = self._jobs.get(int(job_id))
        return int(job_id), entry if entry is not None and entry.owner == owner else None

    def complete(self, job: Job) -> None:
        """Remove a finished job (if still its holder's, or unowned) and free its host's slot."""
        job_id, entry = self._holder(job)
        found = self._jobs.get(job_id)
        if found is None or (found.owner is not None and entry is None):
            return
        del self._jobs[job_id]
        del self._identity[(found.kind, found.request_id, found.url)]
        if found.owner is not None:
            self._hosts[found.host].running -= 1

    def give_back(self, job: Job, retry_at: float | None = None) -> bool:
        """``store.base.Store.release``: back to its queue with its tag, or due at ``retry_at`` and uncounted."""
        job_id, entry = self._holder(job)
        if entry is None:
            return False
        entry.owner = None
        self._hosts[entry.host].running -= 1
        if retry_at is None:
            self._make_ready(job_id)
        else:
            entry.tag, entry.not_before, entry.attempts = None, retry_at, max(1, entry.attempts - 1)
        return True

    def lapse(self, job: Job, at: float) -> None:
        """The holder gave up on ``job`` without an outcome: its lease lapses at ``at``."""
        _job_id, entry = self._holder(job)
        if entry is not None:
            entry.lease_until = at

    def drop_jobs_of(self, kind: str, request_id: str) -> None:
        for job_id, entry in list(self._jobs.items()):
            if entry.kind == kind and entry.request_id == request_id and entry.owner is None:
                del self._jobs[job_id]
                del self._identity[(kind, request_id, entry.url)]

    def forget_idle_hosts(self, now: float) -> None:
        """Drop the hosts without a job (ready, running or not due yet) whose spacing and Crawl-delay have passed, as
        SQLite and Redis drop their rows: the next job of one makes it again. Kept, every host ever met stayed."""
        with_jobs = {entry.host for entry in self._jobs.values()}
        for name, host in list(self._hosts.items()):
            if name not in with_jobs and host.next_start <= now and host.delay_until <= now:
                del self._hosts[name]

    def take_turn(self, host: str, now: float, within: float | None = None) -> float | None:
        state = self._hosts.get(host)
        if state is None or state.delay <= 0 or state.delay_until <= now:
            return 0.0
        turn = max(state.next_start, now)
        if within is not None and turn - now > within:
            return None
        state.next_start = turn + state.delay
        return turn - now

    def set_crawl_delay(self, host: str, delay: float, until: float, now: float) -> None:
        state = self._hosts.setdefault(host, _Host())
        state.delay, state.delay_until = delay, until
        state.next_start = max(state.next_start, now + delay)
