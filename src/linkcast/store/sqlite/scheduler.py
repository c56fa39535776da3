"""The job scheduler in SQL: start-time fair queuing by host and by flow, with per-host concurrency and spacing.

Every job (a page, a crawl's page...) has a host key (``host:port``) and a flow (``core/flows.py``: the client that
submitted it, its crawl, its feed...). A job that is due takes the next place in its host's sequence (the host's last
place or the virtual time, the highest tag taken so far, whichever is higher, plus one) and the next in its flow's
(the same with the flow's last place); its tag is the later of the two. A worker takes the job with the lowest tag
among the hosts that have room (fewer running than their concurrency) and are due (their spacing since the last start
has passed). So a host with 10,000 queued jobs gets its share and no more, and so does a flow with 1,000 jobs on 1,000
hosts: a single URL of another host and another flow, queued behind them, is tagged just past the virtual time and
runs next. (Why the host and the flow each keep their own sequence: ``fair_queue.py``.)

Tables (``schema.py``): ``jobs`` (one row per pending job, with its flow; ``tag`` is NULL until ``not_before``),
``hosts`` (running count, next allowed start, last place given, the lowest tag of its ready jobs (``head_tag``), and a
``Crawl-delay`` with its expiry), ``flows`` (a flow's last place, while past the virtual time: an older one is the
same as none, and claims delete those), ``meta`` (the virtual time). Each function runs inside the writer's
transaction.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import orjson

from linkcast.core.events import Job
from linkcast.core.flows import NO_FLOW
from linkcast.core.inputs import host_key

VIRTUAL_TIME = "virtual_time"
# Jobs whose not-before time has come, given their tags per claim at most (the rest on the next one).
PROMOTE_BATCH = 1000
# Jobs whose lease lapsed, returned to their queue per claim at most.
RECLAIM_BATCH = 100
# Flows whose last place the virtual time has reached (the same as none), deleted per claim at most.
FORGET_FLOWS_BATCH = 100
FORGET_PAST_FLOWS = (
    "DELETE FROM flows WHERE flow IN (SELECT flow FROM flows WHERE last_tag <= ? ORDER BY last_tag LIMIT ?)"
)
# A host's head tag (the lowest tag of its ready jobs) recomputed, for the host given as its one parameter.
HEAD_TAG = "SELECT min(tag) FROM jobs WHERE host = ? AND owner IS NULL AND tag IS NOT NULL"
# A host's row removed if it has no job (ready, not due yet, leased: each looked for through its index) and nothing
# to remember (spacing, Crawl-delay); parameters: the host, the time now.
FORGET_IDLE_HOST = (
    "DELETE FROM hosts WHERE host = ?1 AND running = 0 AND head_tag IS NULL AND next_start <= ?2 AND delay_until <= ?2 "
    "AND NOT EXISTS (SELECT 1 FROM jobs WHERE host = ?1 AND owner IS NULL AND tag IS NOT NULL) "
    "AND NOT EXISTS (SELECT 1 FROM jobs WHERE host = ?1 AND tag IS NULL) "
    "AND NOT EXISTS (SELECT 1 FROM jobs WHERE host = ?1 AND owner IS NOT NULL)"
)


@dataclass(frozen=True, slots=True)
class Limits:
    """A host's default concurrency and spacing (``--per-host-concurrency``, ``--per-host-delay``); a host with a
    ``Crawl-delay`` in force runs one job at a time, that far apart (or ``delay`` apart, if longer)."""

    concurrency: int
    delay: float


@dataclass(frozen=True, slots=True)
class Claimed:
    """What a claim found: the job (None if nothing could start) and the rows it belongs to."""

    job: Job | None
    job_id: int = 0
    host: str = ""


def virtual_time(connection: sqlite3.Connection) -> int:
    row = connection.execute("SELECT value FROM meta WHERE key = ?", (VIRTUAL_TIME,)).fetchone()
    return int(row[0]) if row else 0


def _flow_place(connection: sqlite3.Connection, flow: str, vt: int) -> int:
    """The next place in ``flow``'s sequence, recorded as its last (0 for no flow: it orders nothing)."""
    if flow == NO_FLOW:
        return 0
    (place,) = connection.execute(
        "INSERT INTO flows (flow, last_tag) VALUES (:flow, :vt + 1) "
        "ON CONFLICT (flow) DO UPDATE SET last_tag = max(last_tag, :vt) + 1 RETURNING last_tag",
        {"flow": flow, "vt": vt},
    ).fetchone()
    return int(place)


def _tag(connection: sqlite3.Connection, host: str, flow: str, vt: int) -> int:
    """The start tag of a job of ``host`` and ``flow``: the later of the next places in each one's sequence, each
    recorded as its last (the host's row made if missing), and the tag made the host's head if lowest. The host's in
    one statement: the hot path of every claim and every job queued ready."""
    place = _flow_place(connection, flow, vt)
    (tag,) = connection.execute(
        "INSERT INTO hosts (host, last_tag, head_tag) VALUES (:host, :vt + 1, max(:vt + 1, :flow)) "
        "ON CONFLICT (host) DO UPDATE SET last_tag = max(last_tag, :vt) + 1, "
        "head_tag = min(coalesce(head_tag, max(max(last_tag, :vt) + 1, :flow)), max(max(last_tag, :vt) + 1, :flow)) "
        "RETURNING max(last_tag, :flow)",
        {"host": host, "vt": vt, "flow": place},
    ).fetchone()
    return int(tag)


def enqueue(
    connection: sqlite3.Connection,
    kind: str,
    request_id: str,
    url: str,
    host: str,
    now: float,
    data: dict[str, Any] | None = None,
    not_before: float = 0.0,
    flow: str = NO_FLOW,
) -> bool:
    """Queue a job of ``flow``; False (and nothing queued) if the same job (kind, request, URL) is queued already.

    That one is looked for before a tag is taken: a tag takes the next place in the host's and the flow's sequences,
    and each wake of a webhook endpoint whose job waits (one per event) pushed its next run that much further back."""
    queued = connection.execute(
        "SELECT 1 FROM jobs WHERE kind = ? AND request_id = ? AND url = ?", (kind, request_id, url)
    ).fetchone()
    if queued is not None:
        return False
    tag = _tag(connection, host, flow, virtual_time(connection)) if not_before <= now else None
    connection.execute(  # nothing can have queued it since: the writer runs one transaction at a time
        "INSERT INTO jobs (kind, request_id, url, host, flow, tag, not_before, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (kind, request_id, url, host, flow, tag, not_before, orjson.dumps(data) if data else None),
    )
    return True


def refresh_head(connection: sqlite3.Connection, host: str) -> None:
    connection.execute(f"UPDATE hosts SET head_tag = ({HEAD_TAG}) WHERE host = ?", (host, host))


def _promote_due(connection: sqlite3.Connection, now: float) -> None:
    """Tag the jobs whose not-before time has come: they compete from now on, not from when they were queued."""
    due = connection.execute(
        "SELECT id, host, flow FROM jobs WHERE tag IS NULL AND not_before <= ? ORDER BY not_before LIMIT ?",
        (now, PROMOTE_BATCH),
    ).fetchall()
    vt = virtual_time(connection) if due else 0
    for job_id, host, flow in due:
        connection.execute("UPDATE jobs SET tag = ? WHERE id = ?", (_tag(connection, host, flow, vt), job_id))


def _reclaim_lapsed(connection: sqlite3.Connection, now: float) -> list[str]:
    """Jobs whose lease lapsed (held by no live worker) go back to their queue, keeping their tag (they run soon);
    returns the request ids, for the log."""
    lapsed = connection.execute(
        "SELECT id, host, request_id FROM jobs WHERE owner IS NOT NULL AND lease_until < ? ORDER BY lease_until "
        "LIMIT ?",
        (now, RECLAIM_BATCH),
    ).fetchall()
    for job_id, host, _request_id in lapsed:
        connection.execute("UPDATE jobs SET owner = NULL, lease_until = NULL WHERE id = ?", (job_id,))
        connection.execute("UPDATE hosts SET running = max(running - 1, 0) WHERE host = ?", (host,))
        refresh_head(connection, host)
    return [request_id for _job_id, _host, request_id in lapsed]


def claim(connection: sqlite3.Connection, owner: str, now: float, lease_until: float, limits: Limits) -> Claimed:
    """Lease the job with the lowest tag among the hosts that have room and are due, to ``owner``."""
    _reclaim_lapsed(connection, now)
    _promote_due(connection, now)
    row = connection.execute(
        "SELECT host, delay, delay_until FROM hosts WHERE head_tag IS NOT NULL AND next_start <= ? "
        "AND running < CASE WHEN delay > 0 AND delay_until > ? THEN 1 ELSE ? END ORDER BY head_tag LIMIT 1",
        (now, now, limits.concurrency),
    ).fetchone()
    if row is None:
        return Claimed(None)
    host, crawl_delay, delay_until = row
    job_id, kind, request_id, url, tag, data, attempts = connection.execute(
        "UPDATE jobs SET owner = ?, lease_until = ?, attempts = attempts + 1 WHERE id = (SELECT id FROM jobs "
        "WHERE host = ? AND owner IS NULL AND tag IS NOT NULL ORDER BY tag LIMIT 1) "
        "RETURNING id, kind, request_id, url, tag, data, attempts",
        (owner, lease_until, host),
    ).fetchone()
    spacing = max(limits.delay, crawl_delay if delay_until > now else 0.0)
    # No spacing: next_start stays in the past. Written as now, it held the host back for as long as the wall clock
    # then stepped back (an NTP correction, a VM resumed): an hour for a host that started a job the hour before.
    connection.execute(
        "UPDATE hosts SET running = running + 1, next_start = CASE WHEN ? > 0 THEN ? ELSE next_start END, "
        f"head_tag = ({HEAD_TAG}) WHERE host = ?",
        (spacing, now + spacing, host, host),
    )
    (vt,) = connection.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value) RETURNING value",
        (VIRTUAL_TIME, tag),
    ).fetchone()
    connection.execute(FORGET_PAST_FLOWS, (vt, FORGET_FLOWS_BATCH))
    job = Job(request_id, url, attempts, f"{job_id}/{owner}", kind, orjson.loads(data) if data else {})
    return Claimed(job, job_id, host)


def wake_hint(connection: sqlite3.Connection, now: float) -> float | None:
    """When a job may next become claimable without anything new being queued: a host's spacing ending, a job's
    not-before time, a lease lapsing (None: nothing pending waits on time)."""
    row = connection.execute(
        "SELECT min(t) FROM ("
        "SELECT min(next_start) AS t FROM hosts WHERE head_tag IS NOT NULL AND next_start > ? "
        "UNION ALL SELECT min(not_before) FROM jobs WHERE tag IS NULL "
        "UNION ALL SELECT min(lease_until) FROM jobs WHERE owner IS NOT NULL)",
        (now,),
    ).fetchone()
    return float(row[0]) if row and row[0] is not None else None


def receipt_of(job: Job) -> tuple[int, str]:
    """(job row id, owner) from a job's receipt."""
    job_id, _, owner = job.receipt.partition("/")
    return int(job_id), owner


def complete(connection: sqlite3.Connection, job: Job, now: float) -> bool:
    """Remove a finished job and free its host's slot; False if ``job`` is no longer its holder's (its lease lapsed
    and another worker holds it: that worker completes it, and frees the slot, when it ends)."""
    job_id, owner = receipt_of(job)
    row = connection.execute("SELECT host, owner FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        return False
    host, holder = row
    if holder is not None and holder != owner:
        return False
    connection.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
    if holder is not None:
        connection.execute("UPDATE hosts SET running = max(running - 1, 0) WHERE host = ?", (host,))
    refresh_head(connection, host)
    forget_idle_host(connection, host, now)
    return holder is not None


def requeue(
    connection: sqlite3.Connection, job: Job, url: str, now: float, not_before: float, flow: str = NO_FLOW
) -> None:
    """``complete`` the held ``job`` and queue its successor (same kind, request and data, at ``url``, due at
    ``not_before``, in ``flow``): a feed's next poll. The successor takes the job's own row: three statements instead
    of nine.

    A job that is not its holder's any more is left as it is: another worker holds it (its lease lapsed) and queues
    the successor when it ends, or it is that successor already (unheld, never handed out). One whose lease lapsed and
    that waits in its queue again becomes the successor. A successor at another URL (a moved feed) is a new row."""
    job_id, owner = receipt_of(job)
    row = connection.execute("SELECT host, owner, attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is not None:
        host, holder, attempts = row
        if holder != owner and (holder is not None or attempts == 0):
            return
    if row is None or url != job.url:
        complete(connection, job, now)
        enqueue(connection, job.kind, job.request_id, url, host_key(url), now, job.data, not_before, flow)
        return
    tag = _tag(connection, host, flow, virtual_time(connection)) if not_before <= now else None
    connection.execute(
        "UPDATE jobs SET tag = ?, not_before = ?, flow = ?, owner = NULL, lease_until = NULL, attempts = 0 "
        "WHERE id = ?",
        (tag, not_before, flow, job_id),
    )
    if holder is not None:
        connection.execute("UPDATE hosts SET running = max(running - 1, 0) WHERE host = ?", (host,))
    else:  # it waited in its queue with its old tag, maybe at the head
        refresh_head(connection, host)


def give_back(connection: sqlite3.Connection, job: Job, retry_at: float | None = None) -> bool:
    """Return a held job to its queue (a draining worker), keeping its tag, or due at ``retry_at`` with this attempt
    not counted but for its first (``Store.release``); False if it is not ours any more."""
    job_id, owner = receipt_of(job)
    row = connection.execute("SELECT host FROM jobs WHERE id = ? AND owner = ?", (job_id, owner)).fetchone()
    if row is None:
        return False
    if retry_at is None:
        connection.execute("UPDATE jobs SET owner = NULL, lease_until = NULL WHERE id = ?", (job_id,))
    else:
        connection.execute(
            "UPDATE jobs SET owner = NULL, lease_until = NULL, tag = NULL, not_before = ?, "
            "attempts = max(attempts - 1, 1) WHERE id = ?",
            (retry_at, job_id),
        )
    connection.execute("UPDATE hosts SET running = max(running - 1, 0) WHERE host = ?", (row[0],))
    refresh_head(connection, row[0])
    return True


def renew(connection: sqlite3.Connection, owners: list[str], until: float) -> None:
    connection.executemany("UPDATE jobs SET lease_until = ? WHERE owner = ?", [(until, owner) for owner in owners])


def drop_jobs_of(connection: sqlite3.Connection, kind: str, request_id: str, now: float) -> int:
    """Remove the jobs of a request that nobody holds (a cancelled crawl); held ones end with their workers."""
    hosts = [
        row[0]
        for row in connection.execute(
            "SELECT DISTINCT host FROM jobs WHERE kind = ? AND request_id = ? AND owner IS NULL", (kind, request_id)
        )
    ]
    dropped = connection.execute(
        "DELETE FROM jobs WHERE kind = ? AND request_id = ? AND owner IS NULL", (kind, request_id)
    ).rowcount
    for host in hosts:
        refresh_head(connection, host)
        forget_idle_host(connection, host, now)
    return int(dropped)


def forget_idle_host(connection: sqlite3.Connection, host: str, now: float) -> None:
    """A host with nothing queued or running, whose spacing and Crawl-delay have passed, needs no row (bounded).

    Its jobs are looked for ready, not due yet and leased, each through its own partial index: a plain ``host = ?``
    has no index to use and scanned every queued job of every host (a single request ending during a 100,000-URL
    crawl of another host waited 11 ms for it)."""
    connection.execute(FORGET_IDLE_HOST, (host, now))


def set_crawl_delay(connection: sqlite3.Connection, host: str, delay: float, until: float, now: float) -> None:
    """A host's ``Crawl-delay`` (seconds between two starts, one at a time) until ``until``; the next start is
    ``delay`` from ``now`` at the soonest."""
    connection.execute(
        "INSERT INTO hosts (host, delay, delay_until, next_start) VALUES (?1, ?2, ?3, ?4 + ?2) "
        "ON CONFLICT (host) DO UPDATE SET delay = excluded.delay, delay_until = excluded.delay_until, "
        "next_start = max(next_start, excluded.next_start)",
        (host, delay, until, now),
    )


def take_host_turn(connection: sqlite3.Connection, host: str, now: float, within: float | None) -> float | None:
    """``Store.take_host_turn``: the wait for the turn of a host with a ``Crawl-delay`` in force (else 0), None (no
    turn taken) if it is more than ``within`` away."""
    row = connection.execute(
        "SELECT max(next_start, ?2) - ?2 FROM hosts WHERE host = ?1 AND delay > 0 AND delay_until > ?2", (host, now)
    ).fetchone()
    if row is None:
        return 0.0
    if within is not None and row[0] > within:
        return None
    connection.execute("UPDATE hosts SET next_start = max(next_start, ?2) + delay WHERE host = ?1", (host, now))
    return max(0.0, float(row[0]))


def queued_count(connection: sqlite3.Connection) -> int:
    return int(connection.execute("SELECT count(*) FROM jobs WHERE owner IS NULL").fetchone()[0])


def forget_idle_hosts(connection: sqlite3.Connection, after: str, limit: int, now: float) -> str | None:
    """``forget_idle_host`` for the first ``limit`` hosts after ``after``, in name order; the last one looked at, or
    None after the last host. A host's row outlives its last job when its spacing or its Crawl-delay had not passed
    then, and nothing else comes back to it: every host a crawl met would keep its row for ever (Redis expires it)."""
    hosts = [
        row[0]
        for row in connection.execute("SELECT host FROM hosts WHERE host > ? ORDER BY host LIMIT ?", (after, limit))
    ]
    for host in hosts:
        forget_idle_host(connection, host, now)
    return hosts[-1] if len(hosts) == limit else None
