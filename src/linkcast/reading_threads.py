"""Threads that read documents off the event loop (a feed, robots.txt, a sitemap, an OPML list), apart from asyncio's
default executor: anything may fill that one (a library's ``getaddrinfo`` holds its thread for as long as DNS does not
answer), and a feed poll or a crawl must not wait behind it."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# As many as asyncio's default executor had for this work: a long read (a hostile sitemap, up to its deadline) holds
# one, and the others go on.
READING_THREADS = min(32, (os.cpu_count() or 1) + 4)

_READERS = ThreadPoolExecutor(max_workers=READING_THREADS, thread_name_prefix="linkcast-reading")


async def read_in_thread(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``asyncio.to_thread`` on the reading threads."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, function, *args, **kwargs)
    return await loop.run_in_executor(_READERS, call)
