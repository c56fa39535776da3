"""The store's contract (``linkcast.store.base``), proven against every backend of ``tests/store/conftest.py``."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import time

import pytest

from linkcast.core.errors import Conflict, FetchError, NotFound, StoreFull
from linkcast.core.events import (
    ACCEPTED,
    DONE,
    FAILED,
    QUEUED,
    RESULT,
    RUNNING,
    STARTED,
    Event,
    EventBody,
    Job,
    error_body,
    result_body,
    started_body,
)
from linkcast.store import Store
from linkcast.store.base import GUARDED, MAX_ATTEMPTS
from linkcast.store.memory import MemoryStore
from linkcast.store.redis import RedisStore
from linkcast.store.sqlite import SQLiteStore
from tests.store.conftest import Backend

URL = "https://example.com/"
WAIT = 10.0  # no wait in these tests should come near this


def result(job: Job, links: list[str] | None = None) -> EventBody:
    return result_body(
        job.request_id,
        job.url,
        final_url=job.url,
        status_code=200,
        links=links if links is not None else [f"{job.url}next"],
        links_truncated=False,
        timings={},
    )


async def take(store: Store, worker: str = "w1") -> Job:
    job = await store.next_job(worker, timeout=WAIT)
    assert job is not None, "a queued job was not handed out"
    return job


async def all_events(store: Store) -> list[Event]:
    return await store.events_after(0, limit=1_000_000)


# -- submit ------------------------------------------------------------------------------------------------------


async def test_submit_records_queues_and_appends_accepted(store: Store) -> None:
    record, created = await store.submit("a", URL)
    assert created
    assert (record.request_id, record.url, record.state) == ("a", URL, QUEUED)
    fetched = await store.get_request("a")
    assert fetched is not None and (fetched.url, fetched.state) == (URL, QUEUED)
    [event] = await all_events(store)
    assert (event.type, event.request_id) == (ACCEPTED, "a")
    assert event.body() == {"id": event.id, "type": ACCEPTED, "request_id": "a", "url": URL}
    assert await store.queue_depth() == 1


async def test_repeat_submit_returns_the_existing_record_and_starts_nothing(store: Store) -> None:
    await store.submit("a", URL)
    record, created = await store.submit("a", URL)
    assert not created
    assert (record.request_id, record.url) == ("a", URL)
    assert len(await all_events(store)) == 1
    assert await store.queue_depth() == 1


async def test_same_id_with_another_url_conflicts(store: Store) -> None:
    await store.submit("a", URL)
    with pytest.raises(Conflict):
        await store.submit("a", URL + "other")
    assert len(await all_events(store)) == 1
    record = await store.get_request("a")
    assert record is not None and record.url == URL


async def test_unknown_request_is_none(store: Store) -> None:
    assert await store.get_request("nobody") is None


async def test_submit_many_answers_each_in_order(store: Store) -> None:
    await store.submit("taken", URL)
    answers = await store.submit_many([("a", URL + "a"), ("taken", URL + "other"), ("taken", URL), ("b", URL + "b")])
    assert [(answer[0].request_id, answer[1]) for answer in (answers[0], answers[2], answers[3])] == [  # type: ignore[index]
        ("a", True),
        ("taken", False),
        ("b", True),
    ]
    assert isinstance(answers[1], Conflict)
    assert [e.request_id for e in await all_events(store)] == ["taken", "a", "b"]


async def test_requests_are_listed_in_submission_order_a_page_at_a_time(store: Store) -> None:
    for n in range(7):
        await store.submit(f"r{n}", URL + str(n))
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await store.list_requests(None, cursor, 3)
        seen.extend(record.request_id for record in page.items)
        if page.next is None:
            break
        cursor = page.next
    assert seen == [f"r{n}" for n in range(7)]


async def test_a_listing_page_stops_at_its_byte_budget_and_reads_on(store: Store) -> None:
    """A result may hold --max-result-bytes (8 MiB) of links: a page of 1,000 of them read whole would be 8 GiB in
    memory for one GET /urls. A page stops after the record that takes it past ``max_bytes``, and reads on."""
    for n in range(5):
        await store.submit(f"r{n}", URL + str(n))
    for _ in range(5):
        job = await take(store)
        await store.finish(job, result(job, [f"{URL}{'x' * 1000}{k}" for k in range(10)]))  # ~10 KB each
    for state in (None, DONE):
        sizes: list[int] = []
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page = await store.list_requests(state, cursor, 100, max_bytes=15_000)
            sizes.append(len(page.items))
            seen.extend(record.request_id for record in page.items)
            if page.next is None:
                break
            cursor = page.next
        assert seen == [f"r{n}" for n in range(5)] and max(sizes) == 2, sizes
    first = await store.list_requests(None, None, 100, max_bytes=1)
    assert [record.request_id for record in first.items] == ["r0"] and first.next is not None, "never an empty page"


async def test_events_are_read_within_a_byte_budget_and_read_on(store: Store) -> None:
    """Any WebSocket client may replay the log (``since=0``): a thousand results of 8 MiB read at once would be
    8 GiB. A read stops after the event that takes it past ``max_bytes``, never before its first."""
    for n in range(6):
        await store.submit(f"r{n}", URL + str(n))
        job = await take(store)
        await store.finish(job, result(job, [f"{URL}{'x' * 1000}{k}" for k in range(10)]))  # ~10 KB
    results = [e.id for e in await all_events(store) if e.type == RESULT]
    for request_ids in (None, ["r1", "r2", "r3", "r4", "r5"], [f"r{n}" for n in range(200)]):
        read: list[int] = []
        cursor, sizes = 0, []
        while True:
            page = await store.events_after(cursor, request_ids, 1000, max_bytes=15_000)
            if not page:
                break
            sizes.append(sum(1 for e in page if e.type == RESULT))
            read += [e.id for e in page if e.type == RESULT]
            cursor = page[-1].id
        wanted = results if request_ids is None or "r0" in request_ids else results[1:]
        assert read == wanted and max(sizes) <= 2, (request_ids, sizes)
    assert len(await store.events_after(0, None, 1000, max_bytes=1)) == 1, "never an empty read while events are left"


async def test_requests_are_listed_by_state(store: Store) -> None:
    for n in range(5):
        await store.submit(f"r{n}", URL + str(n))
    for _ in range(2):
        job = await take(store)
        await store.finish(job, error_body(job.request_id, job.url, FetchError("no", code="dns"), timings={}))
    failed = await store.list_requests(FAILED, None, 10)
    assert [record.request_id for record in failed.items] == ["r0", "r1"] and failed.next is None
    queued: list[str] = []
    cursor: str | None = None
    while True:  # a backend may give short pages with a state: read on while there is a next
        page = await store.list_requests(QUEUED, cursor, 2)
        queued.extend(record.request_id for record in page.items)
        if page.next is None:
            break
        cursor = page.next
    assert queued == ["r2", "r3", "r4"]


async def test_a_failed_request_is_retried_from_scratch(store: Store) -> None:
    await store.submit("a", URL)
    job = await take(store)
    await store.finish(job, error_body(job.request_id, job.url, FetchError("no", code="dns"), timings={}))
    record = await store.retry("a")
    assert (record.request_id, record.url, record.state) == ("a", URL, QUEUED)
    stored = await store.get_request("a")
    assert stored is not None and (stored.state, stored.attempts, stored.outcome) == (QUEUED, 0, None)
    accepted = (await all_events(store))[-1]
    assert accepted.body() == {"id": accepted.id, "type": ACCEPTED, "request_id": "a", "url": URL, "retry": True}
    again = await take(store)
    assert (again.request_id, again.attempt) == ("a", 1)
    assert await store.finish(again, result(again)) is not None


async def test_only_a_failed_request_can_be_retried(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.retry("nobody")
    await store.submit("a", URL)
    with pytest.raises(Conflict):
        await store.retry("a")
    job = await take(store)
    await store.finish(job, result(job))
    with pytest.raises(Conflict):
        await store.retry("a")
    assert await store.queue_depth() == 0


# -- jobs --------------------------------------------------------------------------------------------------------


async def test_jobs_are_handed_out_oldest_first_and_once(store: Store) -> None:
    for request_id in ("a", "b"):
        await store.submit(request_id, URL + request_id)
    first, second = await take(store, "w1"), await take(store, "w2")
    assert (first.request_id, first.url, first.attempt) == ("a", URL + "a", 1)
    assert second.request_id == "b"
    assert await store.next_job("w3", timeout=0.05) is None
    record = await store.get_request("a")
    assert record is not None and record.state == RUNNING and record.attempts == 1


async def test_waiting_worker_gets_a_job_submitted_later(store: Store) -> None:
    waiting = asyncio.create_task(store.next_job("w1", timeout=60.0))
    await asyncio.sleep(0.1)  # let the worker start waiting; the submit below must wake it
    await store.submit("late", URL)
    # The wait is far longer than this bound, and than any poll: only a wake-up on submit can meet it.
    job = await asyncio.wait_for(waiting, 2.0)
    assert job is not None and job.request_id == "late"


async def test_waiting_worker_gets_a_released_job_at_once(store: Store) -> None:
    await store.submit("a", URL)
    held = await take(store, "w1")
    waiting = asyncio.create_task(store.next_job("w2", timeout=60.0))
    await asyncio.sleep(0.1)
    await store.release(held)
    job = await asyncio.wait_for(waiting, 2.0)
    assert job is not None and (job.request_id, job.attempt) == ("a", 2)


async def test_finish_appends_the_terminal_event_and_records_the_outcome(store: Store) -> None:
    await store.submit("a", URL)
    job = await take(store)
    started = await store.append_started(job, started_body(job.request_id, job.url, job.attempt))
    terminal = await store.finish(job, result(job, ["https://example.com/x"]))
    assert terminal is not None and terminal.is_terminal and terminal.id > started.id
    assert terminal.body()["links"] == ["https://example.com/x"]
    record = await store.get_request("a")
    assert record is not None and record.state == DONE and record.finished_at is not None
    assert record.to_dict()["links"] == ["https://example.com/x"]
    assert [e.type for e in await all_events(store)] == [ACCEPTED, STARTED, "result"]
    assert await store.queue_depth() == 0
    assert await store.next_job("w2", timeout=0.05) is None


async def test_error_outcome_marks_the_request_failed(store: Store) -> None:
    await store.submit("a", URL)
    job = await take(store)
    await store.finish(job, error_body(job.request_id, job.url, FetchError("boom", code="timeout"), timings={}))
    record = await store.get_request("a")
    assert record is not None and record.state == FAILED
    assert record.to_dict()["error"] == {"code": "timeout", "message": "boom"}


async def test_a_second_finish_appends_nothing(store: Store) -> None:
    await store.submit("a", URL)
    job = await take(store)
    assert await store.finish(job, result(job)) is not None
    assert await store.finish(job, result(job, ["https://example.com/other"])) is None
    terminals = [e for e in await all_events(store) if e.is_terminal]
    assert len(terminals) == 1
    record = await store.get_request("a")
    assert record is not None and record.to_dict()["links"] == [f"{URL}next"]


async def test_concurrent_finishes_of_a_redelivered_job_give_one_terminal_event(store: Store) -> None:
    await store.submit("a", URL)
    first = await take(store, "w1")
    await store.release(first)
    second = await take(store, "w2")
    outcomes = await asyncio.gather(store.finish(first, result(first)), store.finish(second, result(second)))
    assert sum(outcome is not None for outcome in outcomes) == 1
    assert len([e for e in await all_events(store) if e.is_terminal]) == 1


async def test_release_returns_the_job_to_the_queue(store: Store) -> None:
    await store.submit("a", URL)
    job = await take(store)
    await store.release(job)
    record = await store.get_request("a")
    assert record is not None and record.state == QUEUED
    assert await store.queue_depth() == 1
    again = await take(store, "w2")
    assert (again.request_id, again.attempt) == ("a", 2)


async def test_a_job_released_for_later_waits_and_its_attempt_is_not_counted(store: Store) -> None:
    """The store refused its outcome (full, unreachable): handed out again at once, it was fetched again and again,
    and ended in worker_lost after MAX_ATTEMPTS refusals however soon the store would have taken it."""
    await store.submit("a", URL)
    job = await take(store)
    await store.release(job, retry_at=time.time() + 0.5)
    record = await store.get_request("a")
    assert record is not None and record.state == QUEUED
    await store.submit("b", URL + "b")
    other = await take(store)  # "a" waits for its time: "b", queued after it, goes first
    assert other.request_id == "b"
    assert await store.finish(other, result(other)) is not None
    for _ in range(MAX_ATTEMPTS + 1):
        job = await take(store)  # by its retry time, nothing queued meanwhile to wake a waiting worker
        # 2: it was handed out before (a run of its own may have done part of its work), and no more.
        assert (job.request_id, job.attempt) == ("a", 2)
        await store.release(job, retry_at=time.time() + 0.05)
    job = await take(store)
    assert await store.finish(job, result(job)) is not None
    assert await store.queue_depth() == 0


async def test_a_job_whose_owner_died_is_handed_out_again(backend: Backend) -> None:
    if not backend.persistent:
        pytest.skip(f"{backend.name}: nothing outlives the process that held the job")
    dead = await backend.open(job_visibility_timeout=0.2)  # every process of a deployment has the same setting
    await dead.submit("a", URL)
    await take(dead, "doomed")
    await dead.close()  # no release: the process died holding the job
    backend.opened.remove(dead)
    alive = await backend.open(job_visibility_timeout=0.2)
    job = await take(alive, "survivor")
    assert (job.request_id, job.attempt) == ("a", 2)
    assert await alive.finish(job, result(job)) is not None


async def test_a_job_neither_finished_nor_released_is_handed_out_again_once_its_lease_lapses(backend: Backend) -> None:
    store = await backend.open(job_visibility_timeout=0.3)
    await store.submit("a", URL)
    stuck = await take(store, "w1")
    store.forget(stuck)  # its worker could neither finish nor release it (the store failed for it)
    job = await take(store, "w2")
    assert (job.request_id, job.attempt) == ("a", 2)
    assert await store.finish(job, result(job)) is not None
    record = await store.get_request("a")
    assert record is not None and record.state == DONE


async def test_a_request_finished_by_a_late_worker_stays_finished_when_its_job_is_handed_out_again(
    backend: Backend,
) -> None:
    """Two workers lose the job's lease in turn: the first comes back and finishes the request while the second holds
    the job; the second dies, and the job goes to a third. The request keeps its one terminal event and its state."""
    store = await backend.open(job_visibility_timeout=0.3)
    await store.submit("a", URL)
    late = await take(store, "w1")
    store.forget(late)  # its worker stalls past its lease
    dying = await take(store, "w2")
    assert await store.finish(late, result(late)) is not None  # the first worker comes back with the outcome
    store.forget(dying)  # the second worker dies holding the job
    third = await store.next_job("w3", timeout=1.0)
    record = await store.get_request("a")
    assert record is not None and record.state == DONE, "a finished request was marked running again"
    if third is not None:
        assert await store.finish(third, result(third)) is None
    assert [e.type for e in await all_events(store) if e.is_terminal] == ["result"]
    record = await store.get_request("a")
    assert record is not None and record.state == DONE


async def test_a_late_outcome_of_another_url_is_not_the_result_of_the_request_made_again_under_its_id(
    backend: Backend,
) -> None:
    """A worker still held the job of request a (URL one) when a was finished by another delivery, pruned, and asked
    for again with URL two (on Redis, a restart without its data and a client's PUT do the same at once): its outcome
    was recorded as a's result, the links of another page than the one asked for, and a's own fetch was refused."""
    store = await backend.open(job_visibility_timeout=0.3)
    await store.submit("a", URL + "one")
    late = await take(store, "w1")
    store.forget(late)  # its worker stalls past its lease
    second = await take(store, "w2")
    assert await store.finish(second, result(second)) is not None
    await store.prune(time.time() + 60, keep_events=1_000_000)
    assert await store.get_request("a") is None
    await store.submit("a", URL + "two")
    assert await store.finish(late, result(late)) is None
    own = await take(store, "w3")
    assert own.url == URL + "two"
    event = await store.finish(own, result(own))
    assert event is not None and event.body()["url"] == URL + "two"
    record = await store.get_request("a")
    assert record is not None and record.state == DONE and record.to_dict()["url"] == URL + "two"


async def test_a_host_with_no_spacing_is_not_held_back_by_a_clock_that_stepped_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each start wrote the host's next start as the time now plus its spacing, 0 by default: once the wall clock
    stepped back an hour (NTP correcting it, a VM resumed), every host that started a job in the hour before took no
    job for an hour, a single URL of it among them. The clock is the process's own here: stepping the machine's is
    not a test's to do."""
    await store.submit("a", URL + "a")
    await take(store)  # still running when the clock steps back: the host's row stays
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 3600)
    await store.submit("b", URL + "b")
    job = await store.next_job("w2", timeout=2.0)
    assert job is not None and job.request_id == "b", "the host waited for the hour the clock went back"


async def test_a_retry_while_the_job_still_runs_ends_in_one_outcome(backend: Backend) -> None:
    """A worker past its lease fails the request while a second holds its job; the request is retried at once. The
    retry ends in exactly one more terminal event, whichever of its jobs brings it."""
    store = await backend.open(job_visibility_timeout=0.3)
    await store.submit("a", URL)
    late = await take(store, "w1")
    store.forget(late)  # its worker stalls past its lease
    running = await take(store, "w2")
    failure = FetchError("no", code="dns")
    assert await store.finish(late, error_body("a", URL, failure, timings={})) is not None
    await store.retry("a")
    assert await store.finish(running, result(running)) is not None  # the running job ends the retry
    more = await store.next_job("w3", timeout=1.0)  # the retry's own job, where the backend queued one
    if more is not None:
        assert await store.finish(more, result(more)) is None
    assert [e.type for e in await all_events(store) if e.is_terminal] == ["error", "result"]
    record = await store.get_request("a")
    assert record is not None and record.state == DONE


async def test_a_live_workers_job_is_not_handed_out_past_its_lease(backend: Backend) -> None:
    store = await backend.open(job_visibility_timeout=0.3)
    await store.submit("a", URL)
    await take(store, "holder")
    # Over three leases pass while the holder lives: nobody else gets the job.
    assert await store.next_job("other", timeout=1.0) is None


async def test_a_job_handed_out_max_attempts_times_ends_in_one_worker_lost_error(backend: Backend) -> None:
    store = await backend.open(job_visibility_timeout=0.1)
    await store.submit("a", URL)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        job = await take(store, f"w{attempt}")
        assert job.attempt == attempt
        store.forget(job)
    assert await store.next_job("last", timeout=1.0) is None
    record = await store.get_request("a")
    assert record is not None and record.state == FAILED
    assert record.to_dict()["error"]["code"] == "worker_lost"
    assert [e.type for e in await all_events(store) if e.is_terminal] == ["error"]


# -- the event log -----------------------------------------------------------------------------------------------


async def test_event_ids_strictly_increase_under_concurrent_appends(store: Store) -> None:
    await asyncio.gather(*(store.submit(f"r{n}", URL) for n in range(200)))
    ids = [event.id for event in await all_events(store)]
    assert len(ids) == 200
    assert all(a < b for a, b in itertools.pairwise(ids))
    assert await store.last_event_id() == ids[-1]


async def test_events_after_honours_filter_limit_and_until(store: Store) -> None:
    for n in range(6):
        await store.submit(f"r{n}", URL)
    events = await all_events(store)
    ids = [e.id for e in events]
    assert [e.id for e in await store.events_after(ids[1])] == ids[2:]
    assert [e.id for e in await store.events_after(ids[1], limit=2)] == ids[2:4]
    assert [e.id for e in await store.events_after(ids[1], until=ids[3])] == ids[2:4]
    assert [e.request_id for e in await store.events_after(0, request_ids={"r1", "r4"})] == ["r1", "r4"]
    assert [e.request_id for e in await store.events_after(ids[1], request_ids=["r1", "r4"])] == ["r4"]
    assert await store.events_after(ids[-1]) == []
    assert [e.json for e in await store.events_after(0)] == [e.json for e in events]


async def test_wait_events_wakes_on_append(store: Store) -> None:
    last = await store.last_event_id()
    waiting = asyncio.create_task(store.wait_events(last, timeout=60.0))
    await asyncio.sleep(0)
    await store.submit("a", URL)
    # The wait is far longer than this bound: only a wake-up on append can meet it.
    events = await asyncio.wait_for(waiting, WAIT)
    assert [(e.type, e.request_id) for e in events] == [(ACCEPTED, "a")]


async def test_wait_events_returns_at_once_when_events_are_there(store: Store) -> None:
    await store.submit("a", URL)
    await store.submit("b", URL)
    events = await asyncio.wait_for(store.wait_events(0, timeout=60.0), WAIT)
    assert [e.request_id for e in events] == ["a", "b"]


async def test_wait_events_times_out_empty(store: Store) -> None:
    assert await store.wait_events(await store.last_event_id(), timeout=0.05) == []


async def test_first_and_last_event_ids(store: Store) -> None:
    assert await store.last_event_id() == 0
    assert await store.first_event_id() == 1
    for n in range(3):
        await store.submit(f"r{n}", URL)
    ids = [e.id for e in await all_events(store)]
    assert await store.first_event_id() == ids[0]
    assert await store.last_event_id() == ids[-1]
    await store.prune(time.time() + 60, 1_000_000)
    assert await store.last_event_id() == ids[-1]
    assert await store.first_event_id() == ids[-1] + 1
    await store.submit("after", URL)
    [event] = await all_events(store)
    assert event.id > ids[-1]


# -- retention ---------------------------------------------------------------------------------------------------


async def finish_all(store: Store) -> None:
    while (job := await store.next_job("w", timeout=0.05)) is not None:
        await store.finish(job, result(job))


async def test_the_log_epoch_stays_while_the_log_lives(store: Store) -> None:
    epoch = await store.log_epoch()
    await store.submit("a", URL)
    await store.prune(time.time() + 1, 0)
    assert await store.log_epoch() == epoch


async def test_prune_by_count_keeps_the_newest_events(store: Store) -> None:
    for n in range(10):
        await store.submit(f"r{n}", URL)
    ids = [e.id for e in await all_events(store)]
    dropped = await store.prune(0.0, keep_events=4)
    assert dropped == 6
    assert [e.id for e in await all_events(store)] == ids[-4:]
    assert await store.first_event_id() == ids[-4]


async def test_prune_by_age_drops_old_events_and_finished_requests_only(store: Store) -> None:
    for n in range(3):
        await store.submit(f"done{n}", URL)
    await finish_all(store)
    await store.submit("waiting", URL)
    dropped = await store.prune(time.time() + 60, keep_events=1_000_000)
    assert dropped == 3 * 2 + 1  # accepted + result each, and the waiting request's accepted
    assert await all_events(store) == []
    assert [await store.get_request(f"done{n}") for n in range(3)] == [None, None, None]
    waiting = await store.get_request("waiting")
    assert waiting is not None and waiting.state == QUEUED
    assert (await take(store)).request_id == "waiting"


async def test_prune_by_count_drops_the_oldest_finished_requests(store: Store) -> None:
    for n in range(5):
        await store.submit(f"r{n}", URL)
        await finish_all(store)
    await store.submit("waiting", URL)
    await store.prune(0.0, keep_events=2)
    kept = [n for n in range(5) if await store.get_request(f"r{n}") is not None]
    assert kept == [3, 4]
    assert await store.get_request("waiting") is not None


async def test_a_listing_cursor_read_before_a_prune_misses_no_request_made_after_it(store: Store) -> None:
    """On SQLite a new request took the rowid of the newest one pruned (the listing's cursor): a client reading on
    from a cursor of before missed as many new requests as it had read."""
    for n in range(4):
        await store.submit(f"old{n}", URL)
    await finish_all(store)
    first = await store.list_requests(None, None, 2)
    assert first.next is not None
    await store.prune(time.time() + 60, keep_events=1_000_000)
    for n in range(4):
        await store.submit(f"new{n}", URL)
    rest = await store.list_requests(None, first.next, 10)
    assert [record.request_id for record in rest.items] == [f"new{n}" for n in range(4)]


async def test_prune_with_nothing_to_drop(store: Store) -> None:
    await store.submit("a", URL)
    assert await store.prune(0.0, keep_events=1_000_000) == 0
    assert len(await all_events(store)) == 1


async def hosts_kept(store: Store) -> int:
    """How many hosts the scheduler keeps a row of: the contract shows it nowhere, each backend holds it its way."""
    if isinstance(store, MemoryStore):
        return len(store._jobs._hosts)
    if isinstance(store, SQLiteStore):
        return int(await store._reader.run(lambda c: c.execute("SELECT count(*) FROM hosts").fetchone()[0]))
    assert isinstance(store, RedisStore)
    return len([key async for key in store.redis.scan_iter(match=store.key("hs", "*"))])


async def test_prune_forgets_the_hosts_with_no_job_whose_spacing_and_crawl_delay_have_passed(backend: Backend) -> None:
    """A host met once keeps nothing in the store for long: memory kept every host for ever, and SQLite the row of
    each whose spacing or Crawl-delay had not passed when its last job ended (Redis lets such rows expire)."""
    store = await backend.open(per_host_delay=0.2)
    for host in ("a", "b", "c"):
        await store.submit(host, f"https://{host}.example/")
    await finish_all(store)
    await store.set_crawl_delay("a.example:443", 0.2, time.time() + 0.3)  # read by a's job: set as it ends
    await store.submit("queued", "https://d.example/")
    await asyncio.sleep(0.4)  # past every spacing and Crawl-delay: what is waited for here is time itself
    await store.prune(0.0, keep_events=1_000_000)
    assert await hosts_kept(store) <= 1, "hosts idle for good were kept"
    await store.submit("a-again", "https://a.example/again")
    assert {(await take(store)).request_id, (await take(store)).request_id} == {"queued", "a-again"}


# -- health ------------------------------------------------------------------------------------------------------


async def test_a_write_that_changes_nothing_leaves_a_failure_remembered_and_a_probe_clears_it(store: Store) -> None:
    """An idle worker's empty claim and a prune that drops nothing succeed even on a full SQLite disk: they say
    nothing of the room left. A write that needs room (``probe_write``, a submission) does."""
    store.health.failed(StoreFull("the disk is full"))
    assert await store.claim_job("w1", timeout=0.01) is None
    assert await store.prune(0.0, keep_events=1_000_000) == 0
    assert isinstance(store.health.error, StoreFull)
    await store.probe_write()
    assert store.health.error is None
    store.health.failed(StoreFull("the disk is full"))
    await store.submit("a", URL)
    assert store.health.error is None


def test_every_method_of_the_contract_fails_with_the_typed_errors(store: Store) -> None:
    """Each one's backend failures leave as ``StoreUnavailable``, ``StoreFull``, ``StoreCorrupt``: one that was not
    wrapped (``count_webhooks``) let Redis's OOM reply through, and PUT /webhooks answered 500 with a traceback.
    ``next_job``, ``fail`` and ``close`` are the base class's own, made of wrapped ones."""
    composed = {"next_job", "fail", "close"}
    contract = {
        name for name in dir(Store) if not name.startswith("_") and inspect.iscoroutinefunction(getattr(Store, name))
    }
    assert contract - composed <= GUARDED
    unwrapped = [name for name in GUARDED if not getattr(getattr(type(store), name), "_store_guarded", False)]
    assert not unwrapped


# -- persistence -------------------------------------------------------------------------------------------------


async def test_records_events_and_idempotency_survive_a_reopen(backend: Backend) -> None:
    if not backend.persistent:
        pytest.skip(f"{backend.name} keeps nothing across processes")
    store = await backend.open()
    await store.submit("done", URL)
    await store.submit("waiting", URL + "w")
    job = await take(store)
    await store.finish(job, result(job))
    before = [e.json for e in await all_events(store)]
    store = await backend.reopen(store)
    record = await store.get_request("done")
    assert record is not None and record.state == DONE and record.to_dict()["links"] == [f"{URL}next"]
    waiting = await store.get_request("waiting")
    assert waiting is not None and waiting.state == QUEUED
    assert [e.json for e in await all_events(store)] == before
    assert (await store.submit("done", URL))[1] is False
    with pytest.raises(Conflict):
        await store.submit("done", URL + "other")
    assert (await take(store)).request_id == "waiting"
    await store.submit("new", URL)
    newest = (await all_events(store))[-1]
    assert newest.request_id == "new" and newest.id > max(e.id for e in await store.events_after(0, limit=len(before)))


# -- the fair scheduler ------------------------------------------------------------------------------------------


async def test_a_single_url_waits_only_for_its_own_host_behind_a_large_queue_of_another(backend: Backend) -> None:
    store = await backend.open(per_host_concurrency=100)
    for n in range(50):
        await store.submit(f"a{n}", f"https://a.example/{n}")
    first = await take(store)
    await store.submit("b", "https://b.example/")
    taken = [(await take(store)).request_id for _ in range(3)]
    assert first.request_id == "a0"
    assert "b" in taken[:2], taken  # tagged just past the virtual time: ahead of a's 48 others


async def test_two_hosts_take_turns(backend: Backend) -> None:
    store = await backend.open(per_host_concurrency=100)
    for n in range(10):
        await store.submit(f"a{n}", f"https://a.example/{n}")
    for n in range(10):
        await store.submit(f"b{n}", f"https://b.example/{n}")
    taken = [(await take(store)).request_id[0] for _ in range(10)]
    assert 4 <= taken.count("a") <= 6, taken  # not all of a's first: both advance together


async def test_a_flow_with_jobs_on_many_hosts_does_not_hold_up_another_flow(store: Store) -> None:
    for n in range(50):  # one client's URLs on 50 hosts (ports, subdomains): one share, not 50
        await store.submit(f"a{n}", f"https://a{n}.example/", flow="client:a")
    await store.submit("b", "https://b.example/", flow="client:b")
    taken = [(await take(store)).request_id for _ in range(3)]
    assert "b" in taken[:2], taken


async def test_a_flow_s_long_queue_does_not_hold_up_another_flow_on_a_host_they_share(store: Store) -> None:
    for n in range(50):  # the last of them on the host that b asks for
        await store.submit(f"a{n}", f"https://a{n}.example/" if n < 49 else "https://shared.example/a", flow="client:a")
    await store.submit("b", "https://shared.example/b", flow="client:b")
    taken = [(await take(store)).request_id for _ in range(4)]
    assert "b" in taken[:3], taken  # its host's queue holds one job of a: b does not wait for a's place in a's flow


async def test_the_jobs_of_one_flow_on_one_host_start_in_order(backend: Backend) -> None:
    store = await backend.open(per_host_concurrency=100)
    for n in range(10):
        await store.submit(f"a{n}", f"https://a.example/{n}", flow="client:a")
        await store.submit(f"o{n}", f"https://o{n}.example/", flow="client:a")
        await store.submit(f"b{n}", f"https://a.example/b{n}", flow="client:b")
    taken = [(await take(store)).request_id for _ in range(30)]
    assert [rid for rid in taken if rid[0] == "a"] == [f"a{n}" for n in range(10)]
    assert [rid for rid in taken if rid[0] == "b"] == [f"b{n}" for n in range(10)]
    assert taken.index("b4") < taken.index("a9"), taken  # on the host they share, b's jobs are not all behind a's


async def test_a_host_never_runs_more_than_its_concurrency(backend: Backend) -> None:
    store = await backend.open(per_host_concurrency=2)
    for n in range(4):
        await store.submit(f"a{n}", f"https://a.example/{n}")
    running = [await take(store), await take(store)]
    assert [job.request_id for job in running] == ["a0", "a1"]
    assert await store.next_job("w", timeout=0.3) is None  # two of a run: its other jobs wait
    await store.submit("b", "https://b.example/")
    assert (await take(store)).request_id == "b"  # another host is not held up
    await store.finish(running[0], result(running[0]))
    assert (await take(store)).request_id == "a2"  # a slot came free


async def test_a_host_s_spacing_holds_between_two_starts(backend: Backend) -> None:
    store = await backend.open(per_host_delay=0.5)
    for n in range(2):
        await store.submit(f"a{n}", f"https://a.example/{n}")
    began = time.monotonic()
    await take(store)
    assert await store.next_job("w", timeout=0.2) is None
    await take(store)
    assert time.monotonic() - began >= 0.45


async def test_a_crawl_delay_set_while_a_job_of_the_host_runs_spaces_the_next_start_from_then(backend: Backend) -> None:
    # The job that fetched robots.txt and read its Crawl-delay goes on to fetch its page: the next job of the host
    # started as soon as that one ended, two pages in a row, and only the starts after it were spaced.
    store = await backend.open(per_host_concurrency=10)
    for n in range(2):
        await store.submit(f"a{n}", f"https://a.example/{n}")
    first = await take(store)
    set_at = time.monotonic()
    await store.set_crawl_delay("a.example:443", 0.5, time.time() + 60)
    await store.finish(first, result(first))
    await take(store)
    assert time.monotonic() - set_at >= 0.45


async def test_a_crawl_delay_set_while_a_job_of_the_host_runs_holds_its_other_jobs(backend: Backend) -> None:
    store = await backend.open(per_host_concurrency=10)
    for n in range(2):
        await store.submit(f"a{n}", f"https://a.example/{n}")
    first = await take(store)
    await store.set_crawl_delay("a.example:443", 0.2, time.time() + 60)
    assert await store.next_job("w", timeout=0.5) is None  # one at a time, even once the delay has passed
    await store.finish(first, result(first))
    assert (await take(store)).request_id == "a1"


async def test_a_crawl_delay_runs_one_job_at_a_time_that_far_apart(backend: Backend) -> None:
    store = await backend.open(per_host_concurrency=10)
    await store.set_crawl_delay("a.example:443", 0.5, time.time() + 60)
    for n in range(3):
        await store.submit(f"a{n}", f"https://a.example/{n}")
    first = await take(store)
    assert await store.next_job("w", timeout=0.2) is None  # one at a time, and not before the delay
    await store.finish(first, result(first))
    began = time.monotonic()
    await take(store)
    assert time.monotonic() - began < 1.0


async def test_a_host_without_a_crawl_delay_in_force_gives_a_request_its_turn_at_once(backend: Backend) -> None:
    store = await backend.open()
    assert await store.take_host_turn("never.example:443") == 0
    await store.set_crawl_delay("past.example:443", 5.0, time.time() - 1)  # kept until a second ago
    assert await store.take_host_turn("past.example:443") == 0
    await store.submit("p", "https://past.example/")
    assert (await take(store)).request_id == "p"


async def test_requests_outside_the_jobs_take_turns_a_crawl_delay_apart_and_the_host_s_jobs_come_after(
    backend: Backend,
) -> None:
    # A crawl's redirect to another host is a request no job of that host was claimed for: it takes the host's
    # next turn, and the turn after it is one delay later, for the next such request or the host's next job.
    store = await backend.open(per_host_concurrency=10)
    await store.set_crawl_delay("a.example:443", 0.5, time.time() + 60)  # the next start 0.5 s from now
    first = await store.take_host_turn("a.example:443")
    second = await store.take_host_turn("a.example:443")
    assert 0 < first <= 0.5 < second <= 1.0, (first, second)
    await store.submit("a", "https://a.example/")
    assert await store.next_job("w", timeout=0.5) is None  # its turn is a delay past the second request's


async def test_a_turn_further_than_the_caller_waits_is_not_taken(backend: Backend) -> None:
    # A request that would wait longer than its caller may is not made: it takes no turn, and the next request's
    # turn is the one it left (taken, a request waiting as long as its caller's bound came before its turn).
    store = await backend.open(per_host_concurrency=10)
    await store.set_crawl_delay("a.example:443", 30.0, time.time() + 600)  # the next start 30 s from now
    assert await store.take_host_turn("a.example:443", within=1.0) is None
    assert 29 < (await store.take_host_turn("a.example:443", within=31.0) or 0) <= 30
    assert 59 < (await store.take_host_turn("a.example:443") or 0) <= 60  # the one after it: no bound
    assert await store.take_host_turn("never.example:443", within=0.0) == 0
