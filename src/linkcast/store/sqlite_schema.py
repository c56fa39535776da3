"""The SQLite backend's file: its tables, connection settings, and rows turned into the event model.

Kept apart from ``sqlite.py`` (the ``Store`` itself) so that each reads at once: here what is on disk, there how the
store uses it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from linkcast.core.errors import ConfigurationError
from linkcast.core.events import Event, EventBody, RequestRecord

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
-- Only pending work lives here: a row is deleted when its request finishes. seq is the queue order. A job with an
-- owner is leased to it until lease_until; the owner's store renews the lease while its worker lives.
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    owner TEXT,
    lease_until REAL
);
CREATE INDEX IF NOT EXISTS jobs_queued ON jobs (seq) WHERE owner IS NULL;
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


def database_path(url: str) -> str:
    """``sqlite:///./linkcast.db`` -> ``./linkcast.db``; ``sqlite:////var/lib/x.db`` -> ``/var/lib/x.db``."""
    path = url.removeprefix("sqlite://").removeprefix("/")
    if not path or path == ":memory:":
        raise ConfigurationError(
            f"{url!r}: give a file path, e.g. sqlite:///./linkcast.db (use memory:// for no file)", code="invalid_store"
        )
    return path


# Added to files made before a column existed: (table, column, declaration).
ADDED_COLUMNS = (("jobs", "lease_until", "REAL"),)
INDEXES_ON_ADDED_COLUMNS = """
CREATE INDEX IF NOT EXISTS jobs_leased ON jobs (lease_until) WHERE owner IS NOT NULL;
"""


def setup_connection(connection: sqlite3.Connection, *, writer: bool) -> None:
    """WAL (readers never block the writer), the schema (writer only), and a read-only guard on the reader."""
    connection.execute("PRAGMA busy_timeout = 10000")
    if writer:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.executescript(SCHEMA)
        for table, column, declaration in ADDED_COLUMNS:
            columns = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
            if column not in columns:
                connection.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        connection.executescript(INDEXES_ON_ADDED_COLUMNS)
    connection.execute("PRAGMA synchronous = NORMAL")
    if not writer:
        connection.execute("PRAGMA query_only = 1")


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


def last_event_id_in(connection: sqlite3.Connection) -> int:
    """The last id ever given (AUTOINCREMENT's counter), even if that event has been pruned since."""
    row = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return int(row[0]) if row else 0
