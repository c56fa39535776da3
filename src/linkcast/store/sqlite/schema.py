"""The SQLite backend's file: its tables, connection settings, and rows turned into the event model.

Kept apart from the ``Store`` itself (``__init__.py``) so that each reads at once: here what is on disk, there how
the store uses it. The file carries its schema version (``PRAGMA user_version``); an older file is brought up to date
when the store opens it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from linkcast.core.errors import ConfigurationError
from linkcast.core.events import PAGE_JOB, Event, EventBody, RequestRecord
from linkcast.core.inputs import host_key

# 5: webhooks (a version 4 file gains their tables when opened); 6: the jobs_delayed index; 7: flows (jobs.flow, the
# flows table), feeds.entry_seq, webhook_deliveries.ended_at and the indexes of the prune by age (feed_entries_age,
# webhook_deliveries_age); 8: feeds.skip_mask
SCHEMA_VERSION = 8

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    outcome BLOB
);
CREATE INDEX IF NOT EXISTS requests_finished ON requests (finished_at) WHERE finished_at IS NOT NULL;
-- Listing by state, in submission order (the rowid, which the index holds).
CREATE INDEX IF NOT EXISTS requests_by_state ON requests (state);
-- Pending work of every kind (scheduler.py): a row is deleted when its job ends. A job with an owner is leased to it
-- until lease_until; the owner's store renews the lease while its worker lives. tag is NULL until not_before.
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    request_id TEXT NOT NULL,
    url TEXT NOT NULL,
    host TEXT NOT NULL,
    flow TEXT NOT NULL DEFAULT '',
    tag INTEGER,
    not_before REAL NOT NULL DEFAULT 0,
    data BLOB,
    owner TEXT,
    lease_until REAL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_identity ON jobs (kind, request_id, url);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (host, tag) WHERE owner IS NULL AND tag IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (not_before) WHERE tag IS NULL;
CREATE INDEX IF NOT EXISTS jobs_leased ON jobs (lease_until) WHERE owner IS NOT NULL;
-- A host's jobs not due yet (a feed's next poll): with jobs_ready and jobs_leased, whether a host has any job at all
-- is three index lookups, not a scan of every queued job (100,000 in a big crawl: 11 ms each time a host idles).
CREATE INDEX IF NOT EXISTS jobs_delayed ON jobs (host) WHERE tag IS NULL;
CREATE TABLE IF NOT EXISTS hosts (
    host TEXT PRIMARY KEY,
    running INTEGER NOT NULL DEFAULT 0,
    next_start REAL NOT NULL DEFAULT 0,
    last_tag INTEGER NOT NULL DEFAULT 0,
    head_tag INTEGER,
    delay REAL NOT NULL DEFAULT 0,
    delay_until REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS hosts_ready ON hosts (head_tag) WHERE head_tag IS NOT NULL;
-- A flow's last place in the fair queue (scheduler.py), kept only while it is past the virtual time.
CREATE TABLE IF NOT EXISTS flows (flow TEXT PRIMARY KEY, last_tag INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS flows_by_last_tag ON flows (last_tag);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
-- Crawls (crawls.py): the record with its counts, the keys of every URL admitted (the visited set, as short
-- digests), and the pages fetched, in the order they ended (seq), for GET /crawls/<id>/pages.
CREATE TABLE IF NOT EXISTS crawls (
    crawl_id TEXT PRIMARY KEY,
    spec BLOB NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    progress_at REAL NOT NULL DEFAULT 0,
    counts BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS crawls_finished ON crawls (finished_at) WHERE finished_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS crawl_seen (
    crawl_id TEXT NOT NULL,
    key BLOB NOT NULL,
    PRIMARY KEY (crawl_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS crawl_pages (
    crawl_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    key BLOB NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (crawl_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS crawl_pages_once ON crawl_pages (crawl_id, key);
-- Feeds (feeds.py): the record, the seen-set (entry id digests with their fingerprint and when last seen), and the
-- entries sent, in order (seq), for GET /feeds/<id>/entries.
CREATE TABLE IF NOT EXISTS feeds (
    feed_id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    url TEXT NOT NULL,
    state TEXT NOT NULL,
    title TEXT,
    site_link TEXT,
    created_at REAL NOT NULL,
    last_poll REAL,
    next_poll REAL,
    last_status INTEGER,
    last_error TEXT,
    etag TEXT,
    last_modified TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    polls INTEGER NOT NULL DEFAULT 0,
    entry_count INTEGER NOT NULL DEFAULT 0,
    interval REAL,
    skip_mask INTEGER NOT NULL DEFAULT 0,
    -- The seq last given to an entry: the next one follows it even once pruning has dropped every entry.
    entry_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS feed_seen (
    feed_id TEXT NOT NULL,
    key BLOB NOT NULL,
    fingerprint TEXT NOT NULL,
    last_seen REAL NOT NULL,
    PRIMARY KEY (feed_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS feed_seen_age ON feed_seen (feed_id, last_seen);
CREATE TABLE IF NOT EXISTS feed_entries (
    feed_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    created_at REAL NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (feed_id, seq)
) WITHOUT ROWID;
-- The prune's way to the entries sent before its cutoff (feeds.py): else it read every feed's every entry each time.
CREATE INDEX IF NOT EXISTS feed_entries_age ON feed_entries (created_at);
-- WebSub (websub.py): a feed's subscription, as JSON (core/websub.py), with its compare-and-swap version and when
-- its job next acts.
CREATE TABLE IF NOT EXISTS websub (
    feed_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    due_at REAL,
    body TEXT NOT NULL
);
-- Webhooks (webhooks.py): an endpoint as JSON (core/webhooks.py) with its compare-and-swap version, its state and
-- host (for the wake-up and its job), the cursor of its outbox over the event log, and whether it was woken while its
-- job was queued or running; the requests it watches (none: all); its outbox, one row per event it takes.
CREATE TABLE IF NOT EXISTS webhooks (
    endpoint_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    every_request INTEGER NOT NULL,
    host TEXT NOT NULL,
    cursor INTEGER NOT NULL DEFAULT 0,
    woken INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_watch (
    request_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    PRIMARY KEY (request_id, endpoint_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS webhook_watch_endpoint ON webhook_watch (endpoint_id);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    endpoint_id TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    ended INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL,
    ended_at REAL,  -- when an ended one ended (core/webhooks.py Delivery.ended_at), for the prune by age
    PRIMARY KEY (endpoint_id, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS webhook_deliveries_age ON webhook_deliveries (ended_at) WHERE ended = 1;
CREATE INDEX IF NOT EXISTS webhook_deliveries_pending ON webhook_deliveries (endpoint_id, event_id) WHERE ended = 0;
CREATE INDEX IF NOT EXISTS webhook_deliveries_ended ON webhook_deliveries (endpoint_id, event_id) WHERE ended = 1;
-- AUTOINCREMENT: an id is never given twice, even after the newest events are pruned.
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    request_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_request ON events (request_id, id);
"""

# Files of version 0 (before the scheduler) have a FIFO jobs table: its rows become page jobs, tagged on first claim.
MIGRATE_FROM_FIFO = (
    "ALTER TABLE jobs RENAME TO jobs_fifo",
    "DROP INDEX IF EXISTS jobs_queued",
    "DROP INDEX IF EXISTS jobs_leased",
)


def database_path(url: str) -> str:
    """``sqlite:///./linkcast.db`` -> ``./linkcast.db``; ``sqlite:////var/lib/x.db`` -> ``/var/lib/x.db``."""
    path = url.removeprefix("sqlite://").removeprefix("/")
    if not path or path == ":memory:":
        raise ConfigurationError(
            f"{url!r}: give a file path, e.g. sqlite:///./linkcast.db (use memory:// for no file)", code="invalid_store"
        )
    return path


def setup_connection(connection: sqlite3.Connection, *, writer: bool) -> None:
    """WAL (readers never block the writer), the schema (writer only), and a read-only guard on the reader."""
    connection.execute("PRAGMA busy_timeout = 10000")
    if writer:
        connection.execute("PRAGMA journal_mode = WAL")
        _create_or_migrate(connection)
    connection.execute("PRAGMA synchronous = NORMAL")
    if not writer:
        connection.execute("PRAGMA query_only = 1")


def _create_or_migrate(connection: sqlite3.Connection) -> None:
    """The schema, made or brought up to ``SCHEMA_VERSION``, in one transaction."""
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version == SCHEMA_VERSION:
        return
    connection.execute("BEGIN IMMEDIATE")
    old_fifo = version == 0 and "seq" in {row[1] for row in connection.execute("PRAGMA table_info(jobs)")}
    for statement in MIGRATE_FROM_FIFO if old_fifo else ():
        connection.execute(statement)
    for statement in _columns_added(connection):
        connection.execute(statement)
    for statement in _statements(SCHEMA):
        connection.execute(statement)
    if old_fifo:
        for request_id, url in connection.execute("SELECT request_id, url FROM jobs_fifo ORDER BY seq").fetchall():
            connection.execute(
                "INSERT INTO jobs (kind, request_id, url, host) VALUES (?, ?, ?, ?)",
                (PAGE_JOB, request_id, url, host_key(url)),
            )
        connection.execute("DROP TABLE jobs_fifo")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    connection.execute("COMMIT")


def _columns_added(connection: sqlite3.Connection) -> list[str]:
    """What brings the tables of an older file to this version (before the indexes on the new columns are made)."""

    def columns(table: str) -> set[str]:
        return {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}

    statements = []
    jobs = columns("jobs")
    if jobs and "flow" not in jobs:  # its jobs have no flow: they are ordered by their hosts alone, as they were
        statements.append("ALTER TABLE jobs ADD COLUMN flow TEXT NOT NULL DEFAULT ''")
    feeds = columns("feeds")
    if feeds and "entry_seq" not in feeds:  # the seq given next follows the entries kept (see feeds.record_entry)
        statements.append("ALTER TABLE feeds ADD COLUMN entry_seq INTEGER NOT NULL DEFAULT 0")
    if feeds and "skip_mask" not in feeds:  # version 8: no hour skipped until the feed's next 200 says otherwise
        statements.append("ALTER TABLE feeds ADD COLUMN skip_mask INTEGER NOT NULL DEFAULT 0")
    deliveries = columns("webhook_deliveries")
    if deliveries and "ended_at" not in deliveries:
        statements += [
            "ALTER TABLE webhook_deliveries ADD COLUMN ended_at REAL",
            "UPDATE webhook_deliveries SET ended_at = coalesce(nullif(body ->> 'delivered_at', 0), "
            "nullif(body ->> 'last_try_at', 0), body ->> 'created_at') WHERE ended = 1",
        ]
    return statements


def _statements(script: str) -> list[str]:
    """The statements of ``script``, one by one (``executescript`` would commit the transaction they belong in)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending)
            pending = ""
    return statements


def record_from_row(row: sqlite3.Row | tuple[Any, ...]) -> RequestRecord:
    """A ``requests`` row (``SELECT *``, the columns in table order) as the model's record."""
    request_id, url, state, created_at, started_at, finished_at, attempts, outcome = row
    return RequestRecord(
        request_id,
        url,
        state,
        created_at,
        started_at,
        finished_at,
        attempts,
        orjson.loads(outcome) if outcome else None,
    )


def event_from_row(row: tuple[Any, ...]) -> Event:
    """An ``(id, type, request_id, body)`` row as a ready-to-send event (the body is stored as serialised)."""
    event_id, event_type, request_id, body = row
    return EventBody(event_type, request_id, body).framed(event_id)


def append_event(connection: sqlite3.Connection, body: EventBody, now: float) -> Event:
    """Insert ``body`` into the log; the row's id is the event's id."""
    cursor = connection.execute(
        "INSERT INTO events (type, request_id, created_at, body) VALUES (?, ?, ?, ?)",
        (body.type, body.request_id, now, body.data),
    )
    assert cursor.lastrowid is not None
    return body.framed(cursor.lastrowid)


def next_place(connection: sqlite3.Connection, table: str) -> int:
    """The rowid of a new row of ``table`` (``requests``, ``crawls``, ``feeds``: their listings' cursor), past every
    one given before. SQLite's own is the largest kept plus one: once the newest rows were pruned or removed, new
    rows took their places, and a client reading on from a cursor of before missed them."""
    newest_kept = f"(SELECT coalesce(max(rowid), 0) FROM {table})"
    (place,) = connection.execute(
        f"INSERT INTO meta (key, value) VALUES (?, {newest_kept} + 1) "
        f"ON CONFLICT (key) DO UPDATE SET value = max(value, {newest_kept}) + 1 RETURNING value",
        (f"last_rowid:{table}",),
    ).fetchone()
    return int(place)


def first_event_id_in(connection: sqlite3.Connection) -> int:
    """The id of the oldest event kept, or the next id to be given when none is. One statement, so one snapshot: read
    as two on the reader's connection (the oldest event, then the counter of ids given), a log empty at the first and
    appended to before the second seemed to begin past its first event, and a client replaying from 0 was told that
    its history had been cut."""
    (first,) = connection.execute(
        "SELECT coalesce((SELECT min(id) FROM events), (SELECT seq FROM sqlite_sequence WHERE name = 'events') + 1, 1)"
    ).fetchone()
    return int(first)


def last_event_id_in(connection: sqlite3.Connection) -> int:
    """The last id ever given (AUTOINCREMENT's counter), even if that event has been pruned since."""
    row = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return int(row[0]) if row else 0
