"""The link cases through the running service, and a sample of them re-checked live against Chromium.

Every case is served from a local site (with its headers and redirects), submitted through ``PUT /urls/<id>``, and
the ``links`` of its result frame must equal the stored list exactly, order included: this proves the whole path
(fetch, redirects, charset from the header, extraction) and not just ``extract_links``.
"""

from __future__ import annotations

import asyncio

import aiohttp

from linkcast.core.links import extract_links
from tests.linkcases import load_cases, register_cases
from tests.linkcases.chromium import chromium_reader
from tests.linkcases.fuzz import random_pages
from tests.support.chromium import require_chromium
from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite

CASES = load_cases()
# Re-checked live in Chromium on every run: one case of each kind of difficulty (encodings, base, markup, URL
# spellings, redirects, scale), so a Chromium update that changes an answer shows up here.
LIVE_SAMPLE = (
    "whitespace-in-href",
    "windows-1252-header",
    "shift-jis-meta",
    "meta-late-in-head",
    "entities-legacy-1252",
    "base-invalid",
    "base-legacy-query",
    "svg-and-math",
    "foreign-namespaces",
    "misnested-markup",
    "chromium-url-spellings",
    "idn-hosts",
    "redirect",
    "many-links",
    "xhtml-namespaces",
    "xhtml-well-formedness-error",
    "xhtml-internal-subset",
)


async def test_every_link_case_through_the_service_gives_chromiums_links(service: Service, site: LocalSite) -> None:
    entries = register_cases(site, CASES)
    async with service.connect() as ws, aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(service.put(name, url, session=session) for name, url in entries.items()))
        assert all(status == 201 for status, _body in answers), answers
        frames = await receive_until(ws, lambda fs: len(terminal_for(fs, set(entries))) == len(entries), timeout=45)
    results = terminal_for(frames, set(entries))
    for case in CASES:
        result = results[case.name]
        assert result["type"] == "result", (case.name, result)
        assert result["final_url"] == site.url(case.path), case.name
        assert result["links"] == case.expected_links(site.origin), case.name


async def test_a_sample_of_the_stored_answers_still_matches_chromium(site: LocalSite) -> None:
    require_chromium()
    sample = [case for case in CASES if case.name in LIVE_SAMPLE]
    assert len(sample) == len(LIVE_SAMPLE)
    entries = register_cases(site, sample)
    async with chromium_reader() as chromium:
        for case in sample:
            final_url, links = await chromium.read(entries[case.name])
            assert final_url == site.url(case.path), case.name
            assert links == case.expected_links(site.origin), case.name


async def test_random_pages_give_what_chromium_gives(site: LocalSite) -> None:
    """Seeded random pages (odd hrefs, odd markup, three encodings) beyond the stored cases; a difference found here
    is worth a new case (``scripts/make_linkcases.py --fuzz SEED`` explores more seeds)."""
    require_chromium()
    pages = random_pages(seed=1, count=40)
    urls = [site.page(f"/fuzz/{n}/dir/page.html", body, content_type) for n, (body, content_type) in enumerate(pages)]
    async with chromium_reader() as chromium:
        for url, (body, content_type) in zip(urls, pages, strict=True):
            _final_url, links = await chromium.read(url)
            assert extract_links(body, url, content_type) == links, url
