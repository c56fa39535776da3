"""What only the SQLite backend promises: its file, WAL, and group commit keeping each operation's failure its own."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from linkcast.core.errors import ConfigurationError, Conflict
from linkcast.core.events import CRAWL_JOB, FEED_JOB, make_body
from linkcast.core.feeds import FeedPoll, FeedRecord, PolledEntry
from linkcast.core.webhooks import DELIVERY_DELIVERED, DELIVERY_FAILED, Delivery, Endpoint
from linkcast.settings import Settings
from linkcast.store import open_store, urgency
from linkcast.store.sqlite import SQLiteStore, database_path, scheduler
from linkcast.store.sqlite import feeds as sqlite_feeds
from linkcast.store.sqlite.schema import SCHEMA_VERSION, append_event, first_event_id_in, setup_connection
from linkcast.store.sqlite.thread import SQLiteThread


def test_store_urls_map_to_paths() -> None:
    assert database_path("sqlite:///./linkcast.db") == "./linkcast.db"
    assert database_path("sqlite:///relative/x.db") == "relative/x.db"
    assert database_path("sqlite:////var/lib/linkcast/x.db") == "/var/lib/linkcast/x.db"
    for unusable in ("sqlite://", "sqlite:///", "sqlite:///:memory:"):
        with pytest.raises(ConfigurationError):
            database_path(unusable)


async def test_the_default_store_is_a_wal_file_created_on_first_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store(Settings())
    assert isinstance(store, SQLiteStore)
    await store.open()
    try:
        await store.submit("a", "https://example.com/")
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "linkcast.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT request_id FROM requests").fetchall() == [("a",)]


async def test_missing_folders_are_created(tmp_path: Path) -> None:
    store = open_store(Settings(store=f"sqlite:///{tmp_path}/deep/er/linkcast.db"))
    await store.open()
    await store.close()
    assert (tmp_path / "deep" / "er" / "linkcast.db").exists()


async def test_a_failing_operation_in_a_group_commit_fails_alone(tmp_path: Path) -> None:
    store = open_store(Settings(store=f"sqlite:///{tmp_path}/linkcast.db"))
    await store.open()
    try:
        await store.submit("taken", "https://example.com/1")
        # Submitted together, these share one transaction; the conflict must not undo the others.
        outcomes = await asyncio.gather(
            *(store.submit(f"r{n}", "https://example.com/") for n in range(20)),
            store.submit("taken", "https://example.com/2"),
            *(store.submit(f"s{n}", "https://example.com/") for n in range(20)),
            return_exceptions=True,
        )
        assert [type(o) for o in outcomes if isinstance(o, BaseException)] == [Conflict]
        assert len(await store.events_after(0, limit=100)) == 41
        assert await store.queue_depth() == 41
    finally:
        await store.close()


async def test_feed_and_crawl_jobs_come_with_what_their_handlers_read_first(tmp_path: Path) -> None:
    """``Job.preread``, read in the claim's transaction: a poll or a crawl page needs no round trip to the reader
    before it fetches."""
    store = open_store(Settings(store=f"sqlite:///{tmp_path}/s.db"))
    await store.open()
    try:
        url = "https://news.example/feed.xml"
        await store.create_feed(FeedRecord("f", {"url": url}, url))
        poll = await store.next_job("w", timeout=10.0)
        assert poll is not None and poll.kind == FEED_JOB
        assert poll.preread == (await store.get_feed_and_subscription("f"),)
        assert poll.preread[0] is not None and poll.preread[0][0].url == url
        await store.create_crawl("c", {"max_pages": 10}, ["https://site.example/"])
        page = await store.next_job("w", timeout=10.0)
        assert page is not None and page.kind == CRAWL_JOB
        assert page.preread == (await store.get_crawl("c"),)
    finally:
        await store.close()


async def test_a_version_6_file_gains_the_entry_numbering_and_numbers_on_from_its_entries(tmp_path: Path) -> None:
    """Schema 7 keeps the seq last given to a feed's entries (``feeds.entry_seq``); a file of before has it added."""
    url, settings = "https://news.example/feed.xml", Settings(store=f"sqlite:///{tmp_path}/s.db")

    async def poll(store: SQLiteStore, entry_id: str) -> None:
        job = await store.next_job("w", timeout=10.0)
        record = await store.get_feed("f")
        assert job is not None and record is not None
        record.next_poll = time.time()
        await store.finish_feed_poll(job, FeedPoll(record, [PolledEntry(entry_id, "v1", {"title": entry_id})]))

    store = open_store(settings)
    await store.open()
    try:
        await store.create_feed(FeedRecord("f", {"url": url}, url))
        await poll(store, "a")
        await poll(store, "b")
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "s.db") as db:  # as version 6 left it
        db.execute("ALTER TABLE feeds DROP COLUMN entry_seq")
        db.execute("PRAGMA user_version = 6")
    store = open_store(settings)
    await store.open()
    try:
        await poll(store, "c")
        entries = (await store.feed_entries("f", None, 10)).items
        assert [(item["seq"], item["entry_id"]) for item in entries] == [(1, "a"), (2, "b"), (3, "c")]
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "s.db") as db:
        assert db.execute("SELECT entry_seq FROM feeds").fetchall() == [(3,)]
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


async def test_a_version_7_file_gains_the_hours_its_feeds_skip(tmp_path: Path) -> None:
    """Schema 8 keeps what RSS skipHours and skipDays ask (``feeds.skip_mask``); a file of before has none skipped."""
    url, settings = "https://news.example/feed.xml", Settings(store=f"sqlite:///{tmp_path}/s.db")
    store = open_store(settings)
    await store.open()
    try:
        await store.create_feed(FeedRecord("f", {"url": url}, url))
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "s.db") as db:  # as version 7 left it
        db.execute("ALTER TABLE feeds DROP COLUMN skip_mask")
        db.execute("PRAGMA user_version = 7")
    store = open_store(settings)
    await store.open()
    try:
        job = await store.next_job("w", timeout=10.0)
        record = await store.get_feed("f")
        assert job is not None and record is not None and record.skip_mask == 0
        record.skip_mask = 1 << 5
        await store.finish_feed_poll(job, FeedPoll(record, []))
        assert (await store.get_feed("f")) == record
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "s.db") as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


async def test_a_version_6_file_gains_when_its_ended_deliveries_ended(tmp_path: Path) -> None:
    """Schema 7 keeps when each ended webhook delivery ended, for the prune by age: a file of before has it filled
    in from each delivery (delivered, else last tried, else recorded)."""
    settings, old = Settings(store=f"sqlite:///{tmp_path}/s.db"), time.time() - 3600
    store = open_store(settings)
    await store.open()
    try:
        await store.save_webhook(Endpoint("e", "https://hooks.example/", ["result"], "whsec_c2VjcmV0"), 0)
        made = [Delivery("e", n, "result", "{}", created_at=old) for n in (1, 2, 3)]
        await store.add_webhook_deliveries("e", 0, 3, made)
        await store.save_webhook_delivery(dataclasses.replace(made[0], state=DELIVERY_DELIVERED, delivered_at=old))
        await store.save_webhook_delivery(dataclasses.replace(made[1], state=DELIVERY_FAILED, last_try_at=old + 1))
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "s.db") as db:  # as version 6 left it
        db.execute("DROP INDEX webhook_deliveries_age")
        db.execute("ALTER TABLE webhook_deliveries DROP COLUMN ended_at")
        db.execute("PRAGMA user_version = 6")
    store = open_store(settings)
    await store.open()
    try:
        with sqlite3.connect(tmp_path / "s.db") as db:
            rows = db.execute("SELECT event_id, ended_at FROM webhook_deliveries ORDER BY event_id").fetchall()
        assert rows == [(1, old), (2, old + 1), (3, None)]
        await store.prune(time.time() - 60, keep_events=1_000_000)
        assert [d.event_id for d in (await store.webhook_deliveries("e", None, 10)).items] == [3]
    finally:
        await store.close()


async def test_an_operation_that_fails_alone_in_its_transaction_leaves_nothing_written(tmp_path: Path) -> None:
    """A group of one runs without a savepoint: its failure must still undo what it wrote before failing."""
    thread = SQLiteThread(str(tmp_path / "t.db"), "test-writer", writer=True, setup=lambda c: None)
    await thread.start()
    try:
        await thread.run(lambda c: c.execute("CREATE TABLE t (n INTEGER)"))

        def writes_then_fails(connection: sqlite3.Connection) -> None:
            connection.execute("INSERT INTO t VALUES (1)")
            raise sqlite3.IntegrityError("fails after writing")

        with pytest.raises(sqlite3.IntegrityError):
            await thread.run(writes_then_fails)
        assert await thread.run(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 0
        await thread.run(lambda c: c.execute("INSERT INTO t VALUES (2)"))
        assert await thread.run(lambda c: c.execute("SELECT n FROM t").fetchall()) == [(2,)]
    finally:
        await thread.stop()


async def test_an_urgent_write_goes_ahead_of_the_queue_and_every_write_runs_once(tmp_path: Path) -> None:
    """A single request's write (``urgency.urgent()``) waits for at most the one operation running, not for the queue
    of a crawl's writes in front of it; the others still run, once each, and settle with their own results."""
    committed: list[object] = []
    thread = SQLiteThread(
        str(tmp_path / "t.db"), "test-writer", writer=True, setup=lambda c: None, on_commit=committed.extend
    )
    await thread.start()
    holds: dict[str, tuple[threading.Event, threading.Event]] = {}

    def write(name: str) -> Callable[[sqlite3.Connection], str]:
        def operation(connection: sqlite3.Connection) -> str:
            connection.execute("INSERT INTO t (name) VALUES (?)", (name,))
            if name in holds:  # the writer is busy with this one while the test queues others
                running, release = holds[name]
                running.set()
                release.wait(10)
            return name

        return operation

    async def held(name: str) -> asyncio.Future[str]:
        holds[name] = (threading.Event(), threading.Event())
        return thread.run(write(name))

    async def running(name: str) -> None:
        assert await asyncio.to_thread(holds[name][0].wait, 10)

    def names_after(seq: int) -> Callable[[sqlite3.Connection], list[str]]:
        return lambda c: [name for (name,) in c.execute("SELECT name FROM t WHERE seq > ? ORDER BY seq", (seq,))]

    try:
        await thread.run(lambda c: c.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT)"))
        # The writer busy with one operation; a crawl's writes queued behind it, then an urgent one.
        first = await held("b0")
        await running("b0")
        queued = [thread.run(write(f"b{n}")) for n in range(1, 30)]
        with urgency.urgent():
            urgent = thread.run(write("u"))
        holds["b0"][1].set()
        assert await asyncio.gather(first, urgent, *queued) == ["b0", "u", *(f"b{n}" for n in range(1, 30))]
        assert await thread.run(names_after(0)) == ["b0", "u", *(f"b{n}" for n in range(1, 30))]
        names = [result for result in committed if isinstance(result, str)]
        assert names == await thread.run(names_after(0))  # each committed once, announced in commit order

        # An urgent write queued while a group runs stops the group after the operation running; its rest follows.
        blocker = await held("h")
        await running("h")
        group = [thread.run(write("g0")), await held("g1"), *(thread.run(write(f"g{n}")) for n in range(2, 10))]
        holds["h"][1].set()
        await running("g1")
        with urgency.urgent():
            urgent = thread.run(write("v"))
        holds["g1"][1].set()
        await asyncio.gather(blocker, urgent, *group)
        assert await thread.run(names_after(31)) == ["h", "g0", "g1", "v", *(f"g{n}" for n in range(2, 10))]
        assert [result for result in committed if isinstance(result, str)] == await thread.run(names_after(0))
    finally:
        for _running, release in holds.values():
            release.set()
        await thread.stop()


async def test_an_urgent_write_that_fails_fails_alone(tmp_path: Path) -> None:
    thread = SQLiteThread(str(tmp_path / "t.db"), "test-writer", writer=True, setup=lambda c: None)
    await thread.start()
    try:
        await thread.run(lambda c: c.execute("CREATE TABLE t (n INTEGER UNIQUE)"))
        await thread.run(lambda c: c.execute("INSERT INTO t VALUES (1)"))
        with urgency.urgent():
            outcomes = await asyncio.gather(
                thread.run(lambda c: c.execute("INSERT INTO t VALUES (2)")),
                thread.run(lambda c: c.execute("INSERT INTO t VALUES (1)")),
                thread.run(lambda c: c.execute("INSERT INTO t VALUES (3)")),
                return_exceptions=True,
            )
        assert [type(o) for o in outcomes if isinstance(o, BaseException)] == [sqlite3.IntegrityError]
        assert await thread.run(lambda c: c.execute("SELECT n FROM t ORDER BY n").fetchall()) == [(1,), (2,), (3,)]
    finally:
        await thread.stop()


def test_the_scheduler_statements_run_per_job_scan_no_table_of_jobs(tmp_path: Path) -> None:
    """Each statement a claim or a job's end runs finds its rows through an index: with 100,000 crawl URLs queued, a
    scan of ``jobs`` (a host's idle check once did one) costs 11 ms on every single request that ends."""
    connection = sqlite3.connect(tmp_path / "plan.db", isolation_level=None)
    setup_connection(connection, writer=True)
    statements = {
        "forget_idle_host": (scheduler.FORGET_IDLE_HOST, ("h", 0.0)),
        "head_tag": (scheduler.HEAD_TAG, ("h",)),
    }
    for name, (sql, parameters) in statements.items():
        plan = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", parameters)]
        assert not [step for step in plan if step.startswith("SCAN jobs") and "USING" not in step], (name, plan)
    connection.close()


def test_the_prune_of_feed_entries_reads_only_the_entries_it_drops(tmp_path: Path) -> None:
    """Through an index, a chunk at a time: it read every feed's every entry (10,000 a feed) on each prune, in one
    transaction that every poll waited behind."""
    connection = sqlite3.connect(tmp_path / "plan.db", isolation_level=None)
    setup_connection(connection, writer=True)
    plan = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sqlite_feeds.PRUNE_ENTRIES}", (0.0, 10))]
    assert not [step for step in plan if step.startswith("SCAN feed_entries")], plan
    assert any("feed_entries_age" in step for step in plan), plan
    connection.close()


def test_a_host_row_is_kept_while_any_of_its_jobs_is_ready_not_due_yet_or_leased(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "hosts.db", isolation_level=None)
    setup_connection(connection, writer=True)
    cases = {"ready": (5, None), "not due yet": (None, None), "leased": (7, "worker-1")}
    for host, (tag, owner) in cases.items():
        connection.execute("INSERT INTO hosts (host) VALUES (?)", (host,))
        connection.execute(
            "INSERT INTO jobs (kind, request_id, url, host, tag, owner, lease_until) "
            "VALUES ('page', ?, 'u', ?, ?, ?, ?)",
            (host, host, tag, owner, 1.0 if owner else None),
        )
        scheduler.forget_idle_host(connection, host, time.time())
    connection.execute("INSERT INTO hosts (host) VALUES ('idle')")
    scheduler.forget_idle_host(connection, "idle", time.time())
    assert {row[0] for row in connection.execute("SELECT host FROM hosts")} == set(cases)
    connection.close()


async def test_a_file_of_version_6_gains_flows_and_keeps_its_queued_jobs(tmp_path: Path) -> None:
    settings = Settings(store=f"sqlite:///{tmp_path}/old.db")
    store = open_store(settings)
    await store.open()
    await store.submit("queued-before", "https://a.example/")
    await store.close()
    with sqlite3.connect(tmp_path / "old.db") as db:  # the file as version 6 left it: no flows
        db.execute("DROP TABLE flows")
        db.execute("ALTER TABLE jobs DROP COLUMN flow")
        db.execute("PRAGMA user_version = 6")
    store = open_store(settings)
    await store.open()
    try:
        await store.submit("queued-after", "https://b.example/", flow="client:b")
        taken = [await store.next_job("w", timeout=5) for _ in range(2)]
        assert {job.request_id for job in taken if job is not None} == {"queued-before", "queued-after"}
    finally:
        await store.close()


async def test_a_flow_is_forgotten_once_the_virtual_time_has_reached_its_last_tag(tmp_path: Path) -> None:
    store = open_store(Settings(store=f"sqlite:///{tmp_path}/flows.db"))
    await store.open()

    def flows() -> int:
        with sqlite3.connect(tmp_path / "flows.db") as db:
            return int(db.execute("SELECT count(*) FROM flows").fetchone()[0])

    try:
        for n in range(3):
            await store.submit(f"r{n}", f"https://h{n}.example/", flow=f"client:{n}")
        assert flows() == 3
        for _ in range(3):
            assert await store.next_job("w", timeout=5) is not None
        assert flows() == 0  # each one's last tag was taken: the same as no row
    finally:
        await store.close()


async def test_a_claim_cancelled_while_its_wait_times_out_leaves_job_announcements_working(tmp_path: Path) -> None:
    """A draining worker pool cancels the workers waiting for a job. A cancel that came while the wait was being
    ended by its own timeout, and the wait was getting the Condition's lock back (another task held it), used to
    leave with RuntimeError('Lock is not acquired') and the lock held for ever: every later job queued hung."""
    store = SQLiteStore(Settings(store=f"sqlite:///{tmp_path}/linkcast.db"))
    await store.open()
    try:
        changed = store._jobs_changed
        claiming = asyncio.create_task(store.claim_job("w", timeout=0.2))
        async with asyncio.timeout(5):
            while not changed._waiters:  # the claim found nothing and waits for a job
                await asyncio.sleep(0.01)
        async with changed:  # the lock held by another task when the wait's timeout comes
            await asyncio.sleep(0.4)
            claiming.cancel()  # and the cancel comes before the wait, woken by the lock's release, takes it back
        with pytest.raises(asyncio.CancelledError):
            await claiming
        async with asyncio.timeout(5):
            await store.submit("after", "http://127.0.0.1/after")
            job = await store.claim_job("w", timeout=1.0)
        assert job is not None and job.request_id == "after"
    finally:
        await store.close()


async def test_the_first_event_id_is_read_in_one_snapshot(tmp_path: Path) -> None:
    """The reader's connection reads outside any transaction, one snapshot a statement. The first event id was read
    in two (the oldest event, then the counter of ids given): an event appended between them made an empty log seem
    to begin at 2, and a client replaying from 0 was told its history had been cut. Here another connection appends
    an event between two statements of the read, if it makes more than one."""
    store = SQLiteStore(Settings(store=f"sqlite:///{tmp_path}/s.db"))
    await store.open()
    await store.close()
    path = str(tmp_path / "s.db")
    reader = sqlite3.connect(path, isolation_level=None)
    writer = sqlite3.connect(path, isolation_level=None)
    statements: list[str] = []

    def between_statements(statement: str) -> None:
        statements.append(statement)
        if len(statements) == 2:  # a second statement of the read: the log changes before it runs
            writer.execute("BEGIN IMMEDIATE")
            append_event(writer, make_body("accepted", "r", "https://example.com/"), time.time())
            writer.execute("COMMIT")

    reader.set_trace_callback(between_statements)
    try:
        assert first_event_id_in(reader) == 1
    finally:
        reader.close()
        writer.close()
