"""One process owns an SQLite store: an exclusive lock on the file ``<database>-lock`` while its store is open.

Why: opening the store returns every job marked running to its queue (those of an owner that crashed), so a second
process on the same file would take back the jobs the first one is running and fetch them again, and the events it
writes would never reach the first one's WebSocket clients (a process announces its own commits only). The lock is
``flock``'s, kept by the kernel until the process ends however it ends (``kill -9`` included), so a crash never
leaves a stale lock behind; a lock file of its own rather than the database, whose POSIX locks SQLite keeps itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os

from linkcast.core.errors import StoreUnavailable

log = logging.getLogger(__name__)


def own_database(path: str) -> int | None:
    """Lock ``path``'s lock file for this process: its descriptor, to give to ``disown_database`` on close.
    ``StoreUnavailable`` if another process holds it; None (unlocked, with a warning) if it cannot be made (a
    read-only folder), where the store may still open as it did before the lock existed."""
    lock_path = f"{path}-lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        try:  # a read-only file system: the lock file of an earlier run can still be locked (flock needs no write)
            fd = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            log.warning("the database's lock file cannot be made (%s): %s; another process could open it too",
                        lock_path, error)  # fmt: skip
            return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        raise StoreUnavailable(
            f"the database {path} is in use by another linkcast process{f' (pid {holder})' if holder else ''}: "
            "an SQLite store has one process; to share a store between processes, use Redis"
        ) from None
    with contextlib.suppress(OSError):  # the pid only names the holder in the message above (a full disk may refuse)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def disown_database(fd: int | None) -> None:
    """Give the lock up (closing its descriptor releases it)."""
    if fd is not None:
        os.close(fd)
