"""Parser benchmark: MB/s of link extraction on generated pages and on real-world HTML found on this machine.

Compares linkcast's ``extract_links`` with BeautifulSoup ``html.parser`` (the prototype's way, and with ``urljoin``
so relative links count), ``lxml.html`` + ``urljoin``, and lexbor parse-only: parse and select the hrefs with no URL
work, the ceiling for any lexbor-based extractor (as in BENCHMARKS.md); pure parsing is shown too. Passes of the
approaches are interleaved and the median counts, so that load from elsewhere hits them alike.

No internet: the real-world pages come from documentation installed here (the Rust toolchain's HTML docs, Node.js,
Python and other packages' docs under /usr/share/doc), sampled deterministically; the report names the sources.

Run: ``python -m bench.bench_parser [--pages 200] [--max-mb 8] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import glob
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser

from bench.site import SiteShape, page_path, render_page
from linkcast.core.links import extract_links

Extractor = Callable[[bytes, str], object]

# Where real-world HTML may be installed, most substantial first: (name, glob patterns).
REAL_WORLD_SOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Rust std docs (rustup)", ("/root/.rustup/toolchains/*/share/doc/rust/html/std/**/*.html",
                                str(Path.home()) + "/.rustup/toolchains/*/share/doc/rust/html/std/**/*.html")),
    ("Node.js API docs", ("/usr/share/doc/nodejs/api/*.html",)),
    ("Python docs", ("/usr/share/doc/python3*/html/**/*.html", sys.prefix + "/share/doc/**/*.html")),
    ("other /usr/share/doc HTML", ("/usr/share/doc/*/html/*.html", "/usr/share/doc/*/*.html")),
)  # fmt: skip
MIN_PAGE_BYTES = 2_000


@dataclass
class Corpus:
    name: str
    pages: list[tuple[str, bytes]]  # (base URL, body)
    sources: list[tuple[str, int, int]]  # (source, files, bytes)

    @property
    def size(self) -> int:
        return sum(len(body) for _, body in self.pages)


def generated_corpus(count: int) -> Corpus:
    origin = "http://127.0.0.1:8000"
    shape = SiteShape(pages=max(count, 1))
    pages = [(origin + page_path(n), render_page(n, origin, shape)) for n in range(count)]
    return Corpus("generated pages", pages, [("bench/site.py", count, sum(len(b) for _, b in pages))])


def real_world_corpus(max_bytes: int) -> Corpus:
    """Up to ``max_bytes`` of installed HTML, an even share per source, files spread evenly over each source."""
    found: list[tuple[str, list[Path]]] = []
    seen: set[Path] = set()
    for name, patterns in REAL_WORLD_SOURCES:
        files = sorted({Path(p) for pattern in patterns for p in glob.glob(pattern, recursive=True)} - seen)
        files = [f for f in files if f.is_file() and f.stat().st_size >= MIN_PAGE_BYTES]
        if files:
            found.append((name, files))
            seen.update(files)
    pages: list[tuple[str, bytes]] = []
    sources: list[tuple[str, int, int]] = []
    for index, (name, files) in enumerate(found):
        budget = (max_bytes - sum(len(b) for _, b in pages)) // (len(found) - index)
        step = max(1, len(files) // 400)
        taken, size = 0, 0
        for path in files[::step]:
            body = path.read_bytes()
            if size + len(body) > budget:
                continue
            pages.append((f"https://docs.example{path.as_posix()}", body))
            taken, size = taken + 1, size + len(body)
        sources.append((name, taken, size))
    return Corpus("real-world HTML", pages, sources)


def bs4_prototype(body: bytes, url: str) -> list[str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(body, "html.parser")
    return [a["href"] for a in soup.find_all("a", href=True) if a["href"].startswith("http")]


def bs4_urljoin(body: bytes, url: str) -> list[str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(body, "html.parser")
    links = (urljoin(url, a["href"]) for a in soup.find_all(["a", "area"], href=True))
    return list(dict.fromkeys(link for link in links if link.startswith(("http:", "https:"))))


def lxml_urljoin(body: bytes, url: str) -> list[str]:
    import lxml.html

    tree = lxml.html.document_fromstring(body, parser=lxml.html.HTMLParser(huge_tree=True))
    links = (urljoin(url, href.strip()) for href in tree.xpath("//a/@href | //area/@href"))
    return list(dict.fromkeys(link for link in links if link.startswith(("http:", "https:"))))


def lexbor_parse_select(body: bytes, url: str) -> list[str | None]:
    return [node.attributes.get("href") for node in LexborHTMLParser(body).css("a[href], area[href]")]


def lexbor_parse(body: bytes, url: str) -> object:
    return LexborHTMLParser(body).root


def linkcast_extract(body: bytes, url: str) -> list[str]:
    return extract_links(body, url, "text/html")


PROTOTYPE = "prototype: BeautifulSoup html.parser, raw http hrefs"
CEILING = "lexbor parse-only (parse + select hrefs, no URL work): ceiling"
LINKCAST = "linkcast extract_links"
APPROACHES: dict[str, tuple[Extractor, bool]] = {  # name -> (function, slow: timed once)
    LINKCAST: (linkcast_extract, False),
    CEILING: (lexbor_parse_select, False),
    "lexbor parse alone (no select)": (lexbor_parse, False),
    "lxml.html + urljoin": (lxml_urljoin, False),
    "BeautifulSoup html.parser + urljoin": (bs4_urljoin, True),
    PROTOTYPE: (bs4_prototype, True),
}


def one_pass(extract: Extractor, corpus: Corpus) -> float:
    """MB/s of one pass over the corpus."""
    began = time.perf_counter()
    for url, body in corpus.pages:
        extract(body, url)
    return corpus.size / (time.perf_counter() - began) / 1e6


def interleaved_passes(corpus: Corpus, repeats: int, slow_repeats: int) -> dict[str, list[float]]:
    """MB/s of each pass of each approach, the passes taken in turn (one of each, then again), so that a burst of
    load from elsewhere on the machine hits every approach alike and their ratios hold."""
    passes: dict[str, list[float]] = {name: [] for name in APPROACHES}
    for round_ in range(max(1, repeats)):
        for name, (extract, slow) in APPROACHES.items():
            if round_ < (slow_repeats if slow else repeats):
                passes[name].append(one_pass(extract, corpus))
    return passes


@dataclass
class ParserResult:
    corpus: Corpus
    passes: dict[str, list[float]]  # approach -> MB/s of each pass

    @property
    def rates(self) -> dict[str, float]:
        """Median MB/s of each approach."""
        return {name: statistics.median(rates) for name, rates in self.passes.items()}

    @property
    def extraction_vs_ceiling(self) -> float:
        """linkcast's share of the ceiling: the median of the ratios of back-to-back passes (they run one after the
        other in each round), steadier than the ratio of the medians when the machine's speed drifts."""
        pairs = zip(self.passes[LINKCAST], self.passes[CEILING], strict=True)
        return statistics.median(mine / ceiling for mine, ceiling in pairs)


def run_parser_bench(pages: int, max_mb: float, repeats: int, slow_repeats: int = 1) -> list[ParserResult]:
    results = []
    for corpus in (generated_corpus(pages), real_world_corpus(int(max_mb * 1e6))):
        if not corpus.pages:
            continue
        results.append(ParserResult(corpus, interleaved_passes(corpus, repeats, slow_repeats)))
    return results


def markdown(results: Sequence[ParserResult]) -> str:
    lines: list[str] = []
    for result in results:
        corpus = result.corpus
        sources = "; ".join(f"{name}: {files} files, {size / 1e6:.1f} MB" for name, files, size in corpus.sources)
        lines += [
            f"#### {corpus.name}: {len(corpus.pages)} pages, {corpus.size / 1e6:.1f} MB ({sources})",
            "",
            "| approach | MB/s | x prototype | share of lexbor parse-only |",
            "| --- | ---: | ---: | ---: |",
        ]
        base, ceiling = result.rates[PROTOTYPE], result.rates[CEILING]
        for name, rate in sorted(result.rates.items(), key=lambda item: -item[1]):
            lines.append(f"| {name} | {rate:.1f} | {rate / base:.1f}x | {rate / ceiling:.0%} |")
        share = result.extraction_vs_ceiling
        lines += ["", f"linkcast's share of the ceiling, median of back-to-back passes: {share:.0%}", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="link extraction MB/s on generated and real-world HTML")
    parser.add_argument("--pages", type=int, default=200, help="generated pages")
    parser.add_argument("--max-mb", type=float, default=8.0, help="real-world HTML to sample, in MB")
    parser.add_argument("--repeats", type=int, default=5, help="passes for the fast approaches (median)")
    args = parser.parse_args()
    print(markdown(run_parser_bench(args.pages, args.max_mb, args.repeats)))


if __name__ == "__main__":
    main()
