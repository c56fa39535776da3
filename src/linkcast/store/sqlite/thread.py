"""One SQLite connection owned by one thread, driven from asyncio; the writer commits in groups.

Why a thread of our own rather than aiosqlite: aiosqlite also runs each connection in a thread, but it commits once
per call and hops threads once per call. Here the writer drains every operation queued while it was busy and runs
them in one transaction (group commit), each inside its own SAVEPOINT so that one failing operation rolls back alone,
then hands all the results back to the event loop in one callback. Under load that turns thousands of commits into
tens; idle, an operation still commits at once (no timer, no added latency).

An operation queued from an ``urgent()`` context (``store.urgency``: a single request's writes) goes ahead: the
writer commits what its group has run so far, runs the urgent ones in a transaction of their own, then goes on with
the rest, so that a single request waits for at most one operation of a crawl's queue, not for the whole queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from linkcast.store.urgency import is_urgent

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], Any]

# Most operations a group commit takes at once; bounds the latency one group adds to the next.
MAX_GROUP = 512

_STOP = object()
_WAKE = object()  # queued beside an urgent operation, so that a writer waiting for work wakes for it


class SQLiteThread:
    """A connection to ``path`` living in its own thread.

    ``writer=True`` runs operations in group-committed transactions and calls ``on_commit`` (on the event loop,
    before any caller resumes) with each committed operation's result, in commit order. ``writer=False`` runs each
    operation on its own, in autocommit mode: a reader that WAL lets run beside the writer.
    """

    def __init__(
        self,
        path: str,
        name: str,
        *,
        writer: bool,
        setup: Callable[[sqlite3.Connection], None],
        on_commit: Callable[[list[Any]], None] | None = None,
    ) -> None:
        self.path = path
        self.name = name
        self.writer = writer
        self._setup = setup
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._urgent: queue.SimpleQueue[Any] = queue.SimpleQueue()  # the writer's operations that go first
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._files: dict[str, tuple[int, int]] = {}  # the writer's files when it opened them (``_identities``)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(target=self._main, args=(ready,), name=self.name, daemon=True)
        self._thread.start()
        await ready

    @property
    def running(self) -> bool:
        return self._thread is not None and self._loop is not None and not self._stopping

    def run(self, operation: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Run ``operation(connection)`` in the thread: a future of its result, for the writer settled once its
        transaction is committed. A plain future, not a coroutine: awaiting it costs no task or frame of its own."""
        if not self.running:
            raise RuntimeError(f"{self.name} is not running")
        assert self._loop is not None
        future: asyncio.Future[T] = self._loop.create_future()
        if self.writer and is_urgent():
            self._urgent.put((operation, future))
            self._queue.put(_WAKE)
        else:
            self._queue.put((operation, future))
        return future

    async def stop(self) -> None:
        if self._thread is None:
            return
        self._stopping = True  # what is queued already completes; nothing new may queue behind the stop
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join)
        self._thread = None
        self._stopping = False

    def _main(self, ready: asyncio.Future[None]) -> None:
        try:
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._setup(connection)
            if self.writer:
                self._files = _identities(self.path)
        except BaseException as error:
            self._call_soon(_settle_one, ready, None, error)
            return
        self._call_soon(_settle_one, ready, None, None)
        try:
            if self.writer:
                self._write_forever(connection)
            else:
                self._read_forever(connection)
        finally:
            connection.close()

    def _read_forever(self, connection: sqlite3.Connection) -> None:
        while (item := self._queue.get()) is not _STOP:
            operation, future = item
            try:
                self._call_soon(_settle_one, future, operation(connection), None)
            except BaseException as error:
                self._call_soon(_settle_one, future, None, error)

    def _write_forever(self, connection: sqlite3.Connection) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                return
            group = [] if item is _WAKE else [item]
            while len(group) < MAX_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                if item is not _WAKE:
                    group.append(item)
            self._write_urgent(connection)
            while group:
                ran = self._commit_group(connection, group, self._urgent.empty)
                self._call_soon(self._settle_group, ran)
                group = group[len(ran) :]
                self._write_urgent(connection)

    def _write_urgent(self, connection: sqlite3.Connection) -> None:
        """Commit the urgent operations queued now, in a transaction of their own."""
        urgent = []
        while len(urgent) < MAX_GROUP:
            try:
                urgent.append(self._urgent.get_nowait())
            except queue.Empty:
                break
        if urgent:
            self._call_soon(self._settle_group, self._commit_group(connection, urgent))

    def _commit_group(
        self, connection: sqlite3.Connection, group: list[Any], go_on: Callable[[], bool] = lambda: True
    ) -> list[tuple[Any, Any, Any]]:
        """Run ``group`` in one transaction, each operation in a savepoint so that its failure is its own (an operation
        alone needs none: its failure is the transaction's, rolled back below), and stop early, committing what ran,
        once ``go_on()`` is false (an urgent operation waits): the operations settled, in order, the first ones of
        ``group``."""
        try:
            connection.execute("BEGIN IMMEDIATE")
            self._check_same_file()
            if len(group) == 1:
                operation, future = group[0]
                settled = [(future, operation(connection), None)]
            else:
                settled = []
                for operation, future in group:
                    settled.append(self._run_in_savepoint(connection, operation, future))
                    if not go_on():
                        break
            connection.execute("COMMIT")
        except Exception as error:  # the transaction itself failed (disk full, I/O): nothing of it happened
            if connection.in_transaction:
                with contextlib.suppress(Exception):
                    connection.execute("ROLLBACK")
            return [(future, None, error) for _operation, future in group]
        return settled

    def _check_same_file(self) -> None:
        """Refuse the transaction if the path no longer names the file this connection writes, or its write-ahead log
        (deleted, or replaced by another): SQLite writes on into the unlinked file, every write acknowledged and the
        next start finding none of them, while it answered 201 and /healthz said ok."""
        now = _identities(self.path)
        if any(now.get(name) != identity for name, identity in self._files.items()):
            raise sqlite3.OperationalError(
                "the database file or its write-ahead log was removed or replaced while in use: nothing more can be "
                "written to it durably "
                "(restart the service to open the file now at this path)"
            )

    @staticmethod
    def _run_in_savepoint(
        connection: sqlite3.Connection, operation: Operation, future: asyncio.Future[Any]
    ) -> tuple[Any, Any, Any]:
        connection.execute("SAVEPOINT operation")
        try:
            result = operation(connection)
        except Exception as error:
            connection.execute("ROLLBACK TO operation")
            return future, None, error
        finally:
            connection.execute("RELEASE operation")
        return future, result, None

    def _settle_group(self, settled: list[tuple[Any, Any, Any]]) -> None:
        if self._on_commit is not None:
            self._on_commit([result for _future, result, error in settled if error is None])
        for future, result, error in settled:
            _settle_one(future, result, error)

    def _call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(callback, *args)


def _identities(path: str) -> dict[str, tuple[int, int]]:
    """The device and inode of the database file and of its write-ahead log (WAL mode: every writer's): a commit is
    in the log until a checkpoint copies it to the file, so a log deleted under the writer takes every commit since
    with it. The writer's connection opened the log, which SQLite deletes only when the last connection closes."""
    found = {}
    for name in (path, f"{path}-wal"):
        with contextlib.suppress(OSError):  # gone, or out of reach: not the file opened, either way
            status = os.stat(name)
            found[name] = (status.st_dev, status.st_ino)
    return found


def _settle_one(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled; a committed write still happened
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
