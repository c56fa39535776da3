"""Threads that read documents off the event loop (a feed, robots.txt, a sitemap, an OPML list), apart from asyncio's
default executor: anything may fill that one (a library's ``getaddrinfo`` holds its thread for as long as DNS does not
answer), and a feed poll or a crawl must not wait behind it.

A crawl's sitemaps are read in threads of their own (``read_sitemap_in_thread``): one may take its whole
``--parse-timeout`` whatever it weighs on the wire (a 57 KB gzip of 50 MiB of tiny elements is 5 s of a core), a
crawl reads up to ``--max-sitemaps`` of them for each of its sites, as many at once as workers hold its seeds, and the
reads that queued behind them (a feed's poll, a hub's delivery, which count their wait in their 10 s) failed
``too_complex``: a delivery so failed is dropped.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# As many as asyncio's default executor had for this work: a long read (a hostile OPML list, up to its deadline)
# holds one, and the others go on.
READING_THREADS = min(32, (os.cpu_count() or 1) + 4)
# Reading a sitemap holds the GIL throughout (expat's callbacks): more threads would slice the same core thinner.
SITEMAP_THREADS = 2

_READERS = ThreadPoolExecutor(max_workers=READING_THREADS, thread_name_prefix="linkcast-reading")
_SITEMAP_READERS = ThreadPoolExecutor(max_workers=SITEMAP_THREADS, thread_name_prefix="linkcast-sitemaps")


async def read_in_thread(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``asyncio.to_thread`` on the reading threads."""
    return await _run(_READERS, functools.partial(function, *args, **kwargs))


async def read_sitemap_in_thread(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``asyncio.to_thread`` on the sitemaps' threads. Cancelled before it began, ``function`` never runs."""
    return await _run(_SITEMAP_READERS, functools.partial(function, *args, **kwargs))


async def _run(executor: Executor, call: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(executor, contextvars.copy_context().run, call)
