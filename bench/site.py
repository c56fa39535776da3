"""The benchmark's local site: generated pages linking among themselves, served from memory on loopback.

``generate_site`` writes the pages to a folder (deterministic for a seed, so every system crawls the same bytes);
``python -m bench.site DIR --port P`` serves them from memory with aiohttp, and several such processes can share a
port (``SO_REUSEPORT``) so that the site is never the bottleneck. The page mix imitates real documents: head with
scripts and styles, navigation, paragraphs, tables, and links of every form a crawler meets (absolute, root-relative,
relative, ``../``, query-only, fragment-only, external, ``mailto:``, ``javascript:``).
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from pathlib import Path

LOREM = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore "
    "magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo consequat "
    "duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur excepteur sint occaecat "
    "cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum"
)
WORDS = LOREM.split()


@dataclass(frozen=True)
class SiteShape:
    """How many pages, how big, how many links each."""

    pages: int = 2000
    page_bytes: int = 30_000
    links_per_page: int = 100
    seed: int = 7


def page_path(n: int) -> str:
    return f"/p/{n}.html"


def _href(rng: random.Random, origin: str, shape: SiteShape, here: int) -> str:
    """One link in one of the forms real pages use; most point at other pages of the site."""
    target = rng.randrange(shape.pages)
    kind = rng.random()
    if kind < 0.30:
        return f"{origin}{page_path(target)}"
    if kind < 0.55:
        return page_path(target)
    if kind < 0.70:
        return f"{target}.html"
    if kind < 0.78:
        return f"../p/{target}.html#s{rng.randrange(9)}"
    if kind < 0.84:
        return f"?page={rng.randrange(50)}&amp;sort=name"
    if kind < 0.88:
        return f"#section-{rng.randrange(20)}"
    if kind < 0.95:
        return f"https://example.org/docs/{rng.choice(WORDS)}/{rng.randrange(1000)}"
    if kind < 0.98:
        return f"mailto:{rng.choice(WORDS)}@example.org"
    return "javascript:void(0)"


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def render_page(n: int, origin: str, shape: SiteShape) -> bytes:
    """Page ``n`` of the site: about ``page_bytes`` of HTML with ``links_per_page`` links spread through it."""
    rng = random.Random(shape.seed * 1_000_003 + n)
    links = [_href(rng, origin, shape, n) for _ in range(shape.links_per_page)]
    head = (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>Page {n} &mdash; bench site</title>"
        '<link rel=stylesheet href="/static/site.css"><script>window.page = ' + str(n) + ";</script>"
        "<style>body{font:16px sans-serif} .nav a{margin:0 4px}</style></head>\n<body>\n"
    )
    nav = (
        "<nav class=nav><ul>"
        + "".join(f'<li><a href="{href}" class="nav-link">{rng.choice(WORDS)}</a></li>' for href in links[:10])
        + "</ul></nav>\n"
    )
    parts = [head, nav, f"<h1 id=top>Page {n}</h1>\n"]
    body_links = links[10:]
    # Spread the remaining links over paragraphs, padding with text up to the page size.
    filler_budget = max(0, shape.page_bytes - len(head) - len(nav) - 100 * len(body_links) - 200)
    paragraphs = max(1, len(body_links) // 3)
    text_per_paragraph = filler_budget // paragraphs
    link_iter = iter(body_links)
    for p in range(paragraphs):
        chunk: list[str] = [f"<section id=section-{p}><h2>{_sentence(rng, 3)}</h2><p>"]
        written = 0
        while written < text_per_paragraph:
            sentence = _sentence(rng, rng.randrange(6, 16)) + " "
            chunk.append(sentence)
            written += len(sentence)
        for href in (next(link_iter, None) for _ in range(3)):
            if href is not None:
                chunk.append(f'<a href="{href}" title="{rng.choice(WORDS)}">{_sentence(rng, 2)}</a> ')
        chunk.append("</p></section>\n")
        parts.append("".join(chunk))
    for href in link_iter:
        parts.append(f'<p><a href="{href}">{rng.choice(WORDS)}</a></p>\n')
    parts.append("<table class=meta><tr><th>page</th><td>" + str(n) + "</td></tr></table>\n")
    parts.append("<footer><p>&copy; bench site</p></footer>\n</body></html>\n")
    return "".join(parts).encode()


def generate_site(folder: Path, origin: str, shape: SiteShape) -> list[str]:
    """Write every page under ``folder`` (mirroring URL paths) and return the page URLs."""
    (folder / "p").mkdir(parents=True, exist_ok=True)
    urls = []
    for n in range(shape.pages):
        (folder / page_path(n).lstrip("/")).write_bytes(render_page(n, origin, shape))
        urls.append(origin + page_path(n))
    return urls


def load_pages(folder: Path) -> dict[str, bytes]:
    """Every page under ``folder`` by URL path."""
    return {"/" + str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*.html")}


def serve(folder: Path, port: int) -> None:
    """Serve the pages from memory on 127.0.0.1:``port`` (shared with other processes through SO_REUSEPORT)."""
    import asyncio

    from aiohttp import web

    pages = load_pages(folder)
    headers = {"Content-Type": "text/html; charset=utf-8"}
    # A crawl's site has a robots.txt (bench_crawl writes one), fetched by every crawler that obeys it.
    robots = folder / "robots.txt"
    robots_body = robots.read_bytes() if robots.is_file() else None

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path == "/robots.txt" and robots_body is not None:
            return web.Response(body=robots_body, content_type="text/plain")
        body = pages.get(request.path)
        if body is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=body, headers=headers)

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, reuse_port=True, backlog=1024).start()
        await asyncio.Event().wait()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:  # pragma: no cover - uvloop is a linkcast dependency on Linux
        asyncio.run(main())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="serve a generated bench site from memory")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(args.folder, args.port)
