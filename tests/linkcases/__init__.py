"""The link cases: small pages with the links headless Chromium sees in them, to hold ``extract_links`` to a browser.

On disk, one folder per case under ``tests/linkcases/cases/``:

- ``page.html``: the exact bytes served (absent for a generated page, see ``GENERATORS``);
- ``case.json``: ``title`` (what it covers), ``path`` (where the page is served: its URL's path and query),
  ``content_type`` (the ``Content-Type`` header), optionally ``redirects`` (paths that answer with a redirect, first
  to last, each to the next and the last to ``path``: the case is entered through the first), ``generator`` and
  ``expected``: Chromium's ``[...document.links].map(a => a.href)``, http(s) only, first occurrence kept, with the
  site's origin written ``{origin}`` (the local server's port changes from run to run).

``scripts/make_linkcases.py`` writes ``expected`` from Chromium (``--check`` compares instead); the tests read it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.support.site import Handler, LocalSite

CASES_DIR = Path(__file__).parent / "cases"
ORIGIN = "{origin}"
DEFAULT_CONTENT_TYPE = "text/html"


def many_links_page(count: int = 10_000) -> bytes:
    """A page of ``count`` links of every common shape, a quarter of them repeats, so order and dedup are at scale."""
    parts = ["<!doctype html><meta charset=utf-8><title>many links</title><ul>"]
    for n in range(count):
        shape = n % 8
        if shape == 0:
            href = f"/many/{n}.html"
        elif shape == 1:
            href = f"item-{n}?sort=asc&amp;page={n % 37}"
        elif shape == 2:
            href = f"https://example.com/p/{n % 500}"  # repeats: 500 distinct values over 1,250 links
        elif shape == 3:
            href = f"#section-{n % 250}"
        elif shape == 4:
            href = f"../up/{n}/"
        elif shape == 5:
            href = f"//cdn.example.org/asset/{n}.png"
        elif shape == 6:
            href = f"mailto:user{n}@example.com"
        else:
            href = f" /spaced/{n % 1000} "
        parts.append(f'<li><a href="{href}">link {n}</a>')
    parts.append("</ul>")
    return "".join(parts).encode()


GENERATORS: dict[str, Callable[[], bytes]] = {"many_links": many_links_page}


@dataclass(frozen=True)
class LinkCase:
    name: str
    title: str
    path: str
    content_type: str
    body: bytes
    redirects: tuple[str, ...] = ()
    expected: tuple[str, ...] | None = None
    spec: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def entry_path(self) -> str:
        """The path a client submits: the first redirect's, or the page's own."""
        return self.redirects[0] if self.redirects else self.path

    def expected_links(self, origin: str) -> list[str]:
        """The expected list for a site at ``origin`` (``http://127.0.0.1:PORT``)."""
        if self.expected is None:
            raise LookupError(f"case {self.name} has no expected links yet: run scripts/make_linkcases.py")
        return [with_origin(link, origin) for link in self.expected]


def with_origin(link: str, origin: str) -> str:
    return origin + link[len(ORIGIN) :] if link.startswith(ORIGIN) else link


def without_origin(link: str, origin: str) -> str:
    """The stored form of a link: the local site's origin as ``{origin}``, only where it is the link's origin."""
    if link == origin or link.startswith((origin + "/", origin + "?", origin + "#")):
        return ORIGIN + link[len(origin) :]
    return link


def load_case(folder: Path) -> LinkCase:
    spec = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    generator = spec.get("generator")
    body = GENERATORS[generator]() if generator else (folder / "page.html").read_bytes()
    expected = spec.get("expected")
    return LinkCase(
        name=folder.name,
        title=spec["title"],
        path=spec.get("path", f"/c/{folder.name}/dir/page.html"),
        content_type=spec.get("content_type", DEFAULT_CONTENT_TYPE),
        body=body,
        redirects=tuple(spec.get("redirects", ())),
        expected=None if expected is None else tuple(expected),
        spec=spec,
    )


def load_cases() -> list[LinkCase]:
    """Every case, sorted by name."""
    return [load_case(folder) for folder in sorted(CASES_DIR.iterdir()) if (folder / "case.json").is_file()]


def save_expected(case: LinkCase, links: list[str], origin: str) -> None:
    """Write Chromium's answer (with the origin as a placeholder) into the case's ``case.json``."""
    spec = {**case.spec, "expected": [without_origin(link, origin) for link in links]}
    text = json.dumps(spec, ensure_ascii=False, indent=2) + "\n"
    (CASES_DIR / case.name / "case.json").write_text(text, encoding="utf-8")


def register_cases(site: LocalSite, cases: list[LinkCase]) -> dict[str, str]:
    """Serve every case on ``site`` (pages, headers, redirects); returns each case's entry URL by name."""
    for case in cases:
        route_path = case.path.split("?", 1)[0]
        site.page(route_path, case.body, content_type=case.content_type)
        hops = [*case.redirects, case.path]
        for source, target in itertools.pairwise(hops):
            site.route(source.split("?", 1)[0], _redirect_to(target))
    return {case.name: site.url(case.entry_path) for case in cases}


def _redirect_to(location: str) -> Handler:
    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": location})

    return handler
