"""Write each link case's expected links from headless Chromium (JavaScript disabled); ``--check`` compares instead.

Serves every case of tests/linkcases/cases/ from a local site on 127.0.0.1, opens each case's entry URL (through its
redirects) in Chromium, reads ``[...document.links].map(a => a.href)``, keeps http(s) links once each in document
order (DESIGN.md's rule), and stores the list in the case's ``case.json`` with the site's origin as ``{origin}``.

    .venv/bin/python scripts/make_linkcases.py            # (re)write every expected list
    .venv/bin/python scripts/make_linkcases.py --check    # exit 1 if Chromium disagrees with any stored list
    .venv/bin/python scripts/make_linkcases.py base-relative redirect   # only these cases
    .venv/bin/python scripts/make_linkcases.py --fuzz 7 --pages 300     # random pages: extract_links vs Chromium
    .venv/bin/python scripts/make_linkcases.py --wpt urltestdata.json --encoding windows-1252   # WPT's URL data
    .venv/bin/python scripts/make_linkcases.py --wpt toascii.json --as-base   # its hosts in a <base href>
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.linkcases import load_cases, register_cases, save_expected, without_origin
from tests.linkcases.chromium import chromium_reader
from tests.linkcases.fuzz import random_pages
from tests.linkcases.wpt import ENCODINGS, RELATIVE_HREFS, WptEntry, batches, load_entries, wpt_page
from tests.support.chromium import chromium_available
from tests.support.site import LocalSite

from linkcast.core.links import extract_links


async def run(names: list[str], check: bool) -> int:
    cases = [case for case in load_cases() if not names or case.name in names]
    unknown = set(names) - {case.name for case in cases}
    if unknown:
        print(f"no such case: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    site = LocalSite()
    entries = register_cases(site, cases)
    await site.start()
    failures = 0
    try:
        async with chromium_reader() as chromium:
            for case in cases:
                final_url, links = await chromium.read(entries[case.name])
                if final_url.split("#")[0] != site.url(case.path):
                    print(f"{case.name}: Chromium ended at {final_url}, not {site.url(case.path)}", file=sys.stderr)
                    failures += 1
                    continue
                stored = [without_origin(link, site.origin) for link in links]
                if check:
                    if case.expected is None or list(case.expected) != stored:
                        print(f"{case.name}: stored list differs from Chromium's {stored[:20]}", file=sys.stderr)
                        failures += 1
                else:
                    save_expected(case, links, site.origin)
                print(f"{case.name}: {len(links)} links")
    finally:
        await site.stop()
    return 1 if failures else 0


async def fuzz(seed: int, count: int) -> int:
    """Compare ``extract_links`` with Chromium on random pages; print each difference, exit 1 if there is any."""
    site = LocalSite()
    pages = random_pages(seed, count)
    urls = [site.page(f"/fuzz/{n}/dir/page.html", body, content_type) for n, (body, content_type) in enumerate(pages)]
    await site.start()
    differences = 0
    try:
        async with chromium_reader() as chromium:
            for n, (url, (body, content_type)) in enumerate(zip(urls, pages, strict=True)):
                _final_url, expected = await chromium.read(url)
                found = extract_links(body, url, content_type)
                if found != expected:
                    differences += 1
                    print(f"page {n} ({content_type}): {body[:300]!r}")
                    print(f"  only Chromium: {[link for link in expected if link not in found]}")
                    print(f"  only linkcast: {[link for link in found if link not in expected]}")
    finally:
        await site.stop()
    print(f"{differences} of {count} pages differ (seed {seed})")
    return 1 if differences else 0


async def wpt(path: Path, encoding: str, batch: int, as_base: bool, escape_hosts: bool) -> int:
    """Compare ``extract_links`` with Chromium on WPT's URL data (``tests/linkcases/wpt.py``): a page per run of
    entries with the same base; where the lists differ, each entry of the run alone, to print the ones that differ."""
    site = LocalSite()
    entries = load_entries(path, as_base, escape_hosts)
    pages: dict[str, tuple[bytes, str]] = {}

    def serve(run: list[WptEntry]) -> str:
        page_path = f"/wpt/{run[0].number}-{run[-1].number}/dir/page.html"
        pages[page_path] = wpt_page(run, encoding)
        return site.page(page_path, *pages[page_path])

    runs = [(serve(run), run) for run in batches(entries, len(RELATIVE_HREFS) if as_base else batch)]
    await site.start()
    differences = 0
    try:
        async with chromium_reader() as chromium:

            async def differs(url: str) -> tuple[list[str], list[str]] | None:
                _final_url, expected = await chromium.read(url)
                body, content_type = pages[url[len(site.origin) :]]
                found = extract_links(body, url, content_type)
                return None if found == expected else (expected, found)

            for url, run in runs:
                if await differs(url) is None:
                    continue
                for entry in run:
                    single = serve([entry])
                    difference = await differs(single)
                    if difference is not None:
                        differences += 1
                        print(f"{entry.describe()}\n  Chromium: {difference[0]}\n  linkcast: {difference[1]}")
    finally:
        await site.stop()
    print(f"{differences} of {len(entries)} entries differ ({path.name}, {encoding})")
    return 1 if differences else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--check", action="store_true", help="compare with the stored lists instead of writing them")
    parser.add_argument("--fuzz", type=int, metavar="SEED", help="compare extract_links with Chromium on random pages")
    parser.add_argument("--pages", type=int, default=200, help="how many random pages --fuzz makes (default 200)")
    parser.add_argument("--wpt", type=Path, metavar="FILE", help="compare on WPT's urltestdata.json or toascii.json")
    parser.add_argument("--as-base", action="store_true", help="--wpt: each input as a <base href>, not an href")
    parser.add_argument("--escape-hosts", action="store_true", help="--wpt: toascii hosts written percent-encoded")
    parser.add_argument("--encoding", choices=sorted(ENCODINGS), default="utf-8", help="--wpt pages' encoding")
    parser.add_argument(
        "--batch", type=int, default=1, help="--wpt entries per page (default 1: in more, a link two give hides one)"
    )
    args = parser.parse_args()
    if not chromium_available():
        print("Chromium (/usr/bin/chromium or LINKCAST_CHROMIUM) and Playwright are needed", file=sys.stderr)
        return 2
    if args.wpt is not None:
        return asyncio.run(wpt(args.wpt, args.encoding, args.batch, args.as_base, args.escape_hosts))
    if args.fuzz is not None:
        return asyncio.run(fuzz(args.fuzz, args.pages))
    return asyncio.run(run(args.cases, args.check))


if __name__ == "__main__":
    sys.exit(main())
