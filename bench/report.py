"""The bench's results as a markdown table (every figure next to the baseline, the ceiling and its target) and a PNG.

Ratios are linkcast divided by the other figure: above 1 is better for rates, below 1 is better for latency and
memory. A cell reads "—" where a system has no such figure (Scrapy has no WebSocket clients).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

DASH = "—"
Row = list[str]


def num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return DASH
    return f"{value:,.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or not b:
        return DASH
    return f"{a / b:.2f}x"


def verdict(ok: bool | str | None) -> str:
    if isinstance(ok, str):
        return ok
    return DASH if ok is None else ("yes" if ok else "**no**")


@dataclass
class Line:
    """One row of the main table before formatting; ``mine`` is linkcast's figure."""

    metric: str
    mine: float | None
    base: float | None
    ceiling: float | None = None
    ceiling_name: str = ""
    scrapy: list[str] | None = None
    target: str = DASH
    ok: bool | str | None = None  # a string: several targets' verdicts, already written
    digits: int = 0
    incomplete: bool = False

    def cells(self, scrapy_columns: int) -> Row:
        mine = num(self.mine, self.digits) + (" (incomplete)" if self.incomplete else "")
        ceiling = f"{num(self.ceiling, self.digits)} ({self.ceiling_name})" if self.ceiling is not None else DASH
        scrapy = self.scrapy or [DASH] * scrapy_columns
        return [self.metric, mine, num(self.base, self.digits), *scrapy, ceiling, ratio(self.mine, self.base),
                ratio(self.mine, self.ceiling), self.target, verdict(self.ok)]  # fmt: skip


def lines(results: dict[str, Any]) -> list[Line]:
    """Every figure of the main table, with its baseline, ceiling and target."""
    counts = [str(c) for c in results["config"]["clients"]]
    first, last = counts[0], counts[-1]
    lc, proto, scrapy = results["linkcast"], results["prototype"], results["scrapy"]
    ceil, bare, idle = results["ceilings"], results["bare_websockets"], results["idle"]

    def scrapy_cells(key: str, digits: int = 0) -> list[str]:
        return [num(figures[key], digits) for figures in scrapy.values()]

    def broken(c: str) -> bool:
        return not (lc[c]["crawl_complete"] and lc[c]["latency_complete"])

    best_scrapy = max((s["pages_per_second"] for s in scrapy.values()), default=0.0)
    out: list[Line] = []
    for c in counts:
        mine, base = lc[c]["pages_per_second"], proto[c]["pages_per_second"]
        line = Line(f"pages/s, {c} client(s)", mine, base, ceil["fetch_parse_pages_per_second"],
                    "fetch + parse, one process", incomplete=broken(c))  # fmt: skip
        if c == first:
            line.scrapy = scrapy_cells("pages_per_second")
            line.target = ">= 20x prototype; >= 1.5x best Scrapy"
            vs_scrapy = mine / best_scrapy if best_scrapy else 0.0
            line.ok = f"{verdict(mine >= 20 * base)}; {verdict(vs_scrapy >= 1.5)} ({vs_scrapy:.2f}x Scrapy)"
        out.append(line)
    for c in counts:
        out.append(Line(f"CPU ms per page, {c} client(s)", lc[c]["cpu_ms_per_page"], proto[c]["cpu_ms_per_page"],
                        ceil["fetch_parse_cpu_ms_per_page"], "fetch + parse, client side",
                        scrapy_cells("cpu_ms_per_page", 2) if c == first else None, digits=2))  # fmt: skip
    floor50, floor99 = ceil["fetch_parse_p50"] * 1000, ceil["fetch_parse_p99"] * 1000
    for c in counts:
        mine = lc[c]["latency_p50_ms"]
        out.append(Line(f"latency p50 ms, {c} client(s)", mine, proto[c]["latency_p50_ms"], floor50,
                        "fetch + parse one page", target="<= ceiling + 5 ms", ok=mine <= floor50 + 5, digits=1,
                        incomplete=broken(c)))  # fmt: skip
    for c in counts:
        mine = lc[c]["latency_p99_ms"]
        line = Line(f"latency p99 ms, {c} client(s)", mine, proto[c]["latency_p99_ms"], floor99,
                    "fetch + parse one page", digits=1, incomplete=broken(c))  # fmt: skip
        if c == last:
            line.target, line.ok = "< 50 ms", mine < 50
        out.append(line)
    for c in counts:
        mine, reference = lc[c]["frames_per_second"], bare[c]["frames_per_second"]
        line = Line(f"frames/s delivered, {c} client(s)", mine, proto[c]["frames_per_second"], reference,
                    "bare websockets broadcast", incomplete=broken(c))  # fmt: skip
        if c == last:
            line.target, line.ok = ">= 0.5x bare websockets", mine >= 0.5 * reference
        out.append(line)
    if first != last:
        # What one more frame costs linkcast: the crawls differ only in how many clients get each event.
        extra_frames = lc[last]["frames"] - lc[first]["frames"]
        extra_cpu = lc[last]["cpu_seconds"] - lc[first]["cpu_seconds"]
        mine = extra_cpu * 1e6 / extra_frames if extra_frames > 0 else None
        reference = bare[last]["cpu_us_per_frame"]
        out.append(Line(f"fan-out CPU us per frame, {last} vs {first} client(s)", mine, None, reference,
                        f"bare websockets, {last} clients", target="<= 2x bare websockets (>= half its frames/s)",
                        ok=mine is not None and mine <= 2 * reference, digits=1))  # fmt: skip
    for c in counts:
        out.append(Line(f"peak RSS MB, {c} client(s)", lc[c]["peak_rss_mb"], proto[c]["peak_rss_mb"],
                        scrapy=scrapy_cells("peak_rss_mb") if c == first else None))  # fmt: skip
    mine_idle, bare_idle = idle["linkcast"], idle["bare_websockets"]
    all_connected = mine_idle["connected"] == mine_idle["clients"]
    out.append(Line(f"RSS cost MB of {mine_idle['clients']:,} idle clients", mine_idle["cost_mb"], None,
                    bare_idle["cost_mb"], "bare websockets", target="< 150 MB",
                    ok=mine_idle["cost_mb"] < 150 and all_connected, incomplete=not all_connected))  # fmt: skip
    for corpus in results["parser"]:
        # The verdict uses the share per round (back-to-back passes): steadier than the ratio of the medians.
        mine, ceiling, share = corpus["linkcast"], corpus["ceiling"], corpus["share"]
        verdict_text = f"{'yes' if share >= 0.5 else '**no**'} ({share:.0%} per round)"
        out.append(Line(f"extraction MB/s, {corpus['corpus']}", mine, corpus["prototype"], ceiling,
                        "lexbor parse-only", target=">= 50% of ceiling", ok=verdict_text, digits=1))  # fmt: skip
    return out


def rows(results: dict[str, Any]) -> tuple[list[str], list[Row]]:
    """The main table's header and formatted rows."""
    scrapy = list(results["scrapy"])
    header = ["metric", "linkcast", "prototype", *[f"Scrapy {k}" for k in scrapy], "ceiling", "linkcast / prototype",
              "linkcast / ceiling", "target", "met"]  # fmt: skip
    return header, [line.cells(len(scrapy)) for line in lines(results)]


def table_markdown(header: list[str], body: list[Row]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def references(results: dict[str, Any]) -> str:
    ceil, bare, idle = results["ceilings"], results["bare_websockets"], results["idle"]
    site = ceil["site_requests_per_second"]
    lines = [
        "| reference on this machine | figure |",
        "| --- | --- |",
        f"| site server alone (wrk, 64 connections, one page) | "
        f"{num(site) + ' requests/s' if site else 'wrk not installed'} |",
        f"| fetch only (bare aiohttp, no parsing) | {num(ceil['fetch_pages_per_second'])} pages/s |",
        f"| parse only (extract_links, no network) | {num(ceil['parse_pages_per_second'])} pages/s, "
        f"{num(ceil['parse_mb_per_second'], 1)} MB/s |",
        f"| fetch + parse, one process (aiohttp + extract_links) | {num(ceil['fetch_parse_pages_per_second'])} "
        "pages/s |",
        f"| fetch + parse of one page at a time | p50 {num(ceil['fetch_parse_p50'] * 1000, 2)} ms, "
        f"p99 {num(ceil['fetch_parse_p99'] * 1000, 2)} ms |",
    ]
    for c, figures in bare.items():
        lines.append(
            f"| bare websockets broadcast to {c} client(s) | {num(figures['frames_per_second'])} frames/s, "
            f"{num(figures.get('cpu_us_per_frame'), 1)} us of server CPU a frame |"
        )
    b = idle["bare_websockets"]
    lines.append(f"| bare websockets, {b['clients']:,} idle clients | {num(b['cost_mb'], 1)} MB of RSS |")
    for name, s in results["scrapy"].items():
        lines.append(
            f"| Scrapy {name}: pages, links found, failures | {s['pages']:,}, {s['links']:,}, {s['failures']:,} |"
        )
    return "\n".join(lines) + "\n"


def cpu_budget(results: dict[str, Any]) -> str:
    """The arithmetic behind the 20x-the-prototype target on this machine: the CPU a page that pace leaves for
    everything on the machine, against what each part of the pipeline used in linkcast's crawl (fewest clients)."""
    first = str(results["config"]["clients"][0])
    mine, proto, ceil = results["linkcast"][first], results["prototype"][first], results["ceilings"]
    cpus = results["machine"]["cpus"]
    target = 20 * proto["pages_per_second"]
    budget = cpus * 1000 / target
    site, driver = mine["site_cpu_ms_per_page"], mine["driver_cpu_ms_per_page"]
    total = mine["cpu_ms_per_page"] + site + driver
    return (
        f"20x the prototype's {num(proto['pages_per_second'])} pages/s is {num(target)} pages/s: on {cpus} CPUs, "
        f"{budget:.2f} ms of CPU a page for everything on the machine. In linkcast's crawl ({first} client(s)) a page "
        f"cost {total:.2f} ms in all: linkcast {mine['cpu_ms_per_page']:.2f}, the site server {site:.2f}, the load "
        f"driver {driver:.2f} ({num(cpus * 1000 / total)} pages/s with every CPU busy; measured "
        f"{num(mine['pages_per_second'])}). With the site and the driver as they are, 20x leaves linkcast "
        f"{budget - site - driver:.2f} ms a page, against {ceil['fetch_parse_cpu_ms_per_page']:.2f} ms for the bare "
        f"fetch + parse client alone (no service) and {proto['cpu_ms_per_page']:.2f} ms for the prototype.\n"
    )


def parser_tables(results: dict[str, Any]) -> str:
    out = []
    for corpus in results["parser"]:
        sources = "; ".join(f"{name}: {files} files, {size / 1e6:.1f} MB" for name, files, size in corpus["sources"])
        out += [
            f"**{corpus['corpus']}**: {corpus['pages']} pages, {corpus['mb']:.1f} MB ({sources})",
            "",
            "| approach | MB/s | x prototype | share of lexbor parse-only |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name, rate in sorted(corpus["rates"].items(), key=lambda item: -item[1]):
            out.append(f"| {name} | {rate:.1f} | {rate / corpus['prototype']:.1f}x | {rate / corpus['ceiling']:.0%} |")
        out += ["", f"linkcast's share of the ceiling, median of back-to-back passes: {corpus['share']:.0%}", ""]
    return "\n".join(out)


def markdown(results: dict[str, Any]) -> str:
    config, site, machine = results["config"], results["site"], results["machine"]
    header, body = rows(results)
    incomplete = [
        f"{system} with {c} client(s)"
        for system in ("linkcast", "prototype")
        for c, figures in results[system].items()
        if not (figures["crawl_complete"] and figures["latency_complete"])
    ]
    parts = [
        "## Results",
        "",
        f"Site: {site['pages']:,} pages, {site['bytes'] / 1e6:.1f} MB, ~{config['links']} links a page, on loopback. "
        f"Machine: {machine['cpus']} CPUs, Python {machine['python']}, {machine['platform']}, load average "
        f"{machine.get('load_at_start', 0):.1f} at the start, {machine.get('load_at_end', 0):.1f} at the end. "
        f"linkcast: `linkcast serve` on {results['linkcast_store']}, --workers {config['workers']} "
        f"--per-host-concurrency {config['workers']}. Prototype: first {config['prototype_pages']:,} pages. "
        f"Crawls: {config['put_concurrency']} PUTs in flight. Latency: {config['latency_requests']} PUTs paced at "
        f"{config['latency_rate']:g}/s, PUT answer to result frame, at every client. Whole run: "
        f"{results['seconds']:.0f} s.",
        "",
        table_markdown(header, body),
    ]
    bare = results["bare_websockets"]
    incomplete += [f"bare websockets with {c} client(s)" for c, figures in bare.items() if not figures["complete"]]
    failed = [
        f"{system} with {c} client(s): {figures['crawl_failed']} in the crawl, {figures['latency_failed']} paced"
        for system in ("linkcast", "prototype")
        for c, figures in results[system].items()
        if figures.get("crawl_failed") or figures.get("latency_failed")
    ]
    if incomplete:
        parts += [f"Incomplete (timed out, figures partial): {', '.join(incomplete)}.", ""]
    if failed:
        parts += [f"Pages that ended in an error, which the rates count as done: {'; '.join(failed)}.", ""]
    parts += ["### Ceilings and references", "", references(results)]
    parts += ["### The CPU a page behind 20x the prototype", "", cpu_budget(results)]
    parts += ["### Link extraction", "", parser_tables(results)]
    if "profile" in results:
        parts += ["### Where linkcast's time goes (py-spy)", "", "```", results["profile"].rstrip(), "```", ""]
    return "\n".join(parts)


def plot(results: dict[str, Any], path: Path) -> None:
    """Four panels: pages/s, latency, frames/s and memory, linkcast against the others."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = [str(c) for c in results["config"]["clients"]]
    lc, proto, scrapy, ceil = results["linkcast"], results["prototype"], results["scrapy"], results["ceilings"]
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    fig.suptitle(f"linkcast bench: {results['site']['pages']:,} pages on loopback, {results['machine']['cpus']} CPUs")

    names = [
        "prototype",
        *[f"Scrapy {k}" for k in scrapy],
        "linkcast",
        "fetch+parse\nceiling",
        "parse only",
        "fetch only",
    ]
    values = [
        proto[counts[0]]["pages_per_second"],
        *[s["pages_per_second"] for s in scrapy.values()],
        lc[counts[0]]["pages_per_second"],
        ceil["fetch_parse_pages_per_second"],
        ceil["parse_pages_per_second"],
        ceil["fetch_pages_per_second"],
    ]
    colors = ["#999999"] * (1 + len(scrapy)) + ["#d62728"] + ["#1f77b4"] * 3
    ax = axes[0][0]
    ax.bar(names, values, color=colors)
    ax.set_yscale("log")
    ax.set_title(f"pages/s ({counts[0]} client, log scale)")
    for x, v in enumerate(values):
        ax.annotate(f"{v:,.0f}", (x, v), ha="center", va="bottom", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)

    ax = axes[0][1]
    xs = [int(c) for c in counts]
    for system, data, color in (("linkcast", lc, "#d62728"), ("prototype", proto, "#999999")):
        ax.plot(xs, [data[c]["latency_p50_ms"] for c in counts], "o-", color=color, label=f"{system} p50")
        ax.plot(xs, [data[c]["latency_p99_ms"] for c in counts], "s--", color=color, label=f"{system} p99")
    ax.axhline(ceil["fetch_parse_p50"] * 1000, color="#1f77b4", lw=1, label="fetch + parse p50 (floor)")
    ax.axhline(50, color="black", lw=0.8, ls=":", label="p99 target 50 ms")
    _client_axis(ax, xs)
    ax.set_title("latency, PUT answer to result frame (ms)")
    ax.legend(fontsize=8)

    ax = axes[1][0]
    bare = results["bare_websockets"]
    for system, data, color in (
        ("linkcast", lc, "#d62728"),
        ("prototype", proto, "#999999"),
        ("bare websockets", bare, "#1f77b4"),
    ):
        ax.plot(xs, [data[c]["frames_per_second"] for c in counts], "o-", color=color, label=system)
    _client_axis(ax, xs)
    ax.set_title("frames/s delivered (all clients)")
    ax.legend(fontsize=8)

    ax = axes[1][1]
    idle = results["idle"]
    mem_names = [f"linkcast\n{c} cl." for c in (counts[0], counts[-1])] + [
        "prototype",
        *[f"Scrapy {k}" for k in scrapy],
        f"{idle['linkcast']['clients']} idle\nclients (linkcast)",
        "same,\nbare ws",
    ]
    mem = [
        lc[counts[0]]["peak_rss_mb"],
        lc[counts[-1]]["peak_rss_mb"],
        proto[counts[0]]["peak_rss_mb"],
        *[s["peak_rss_mb"] for s in scrapy.values()],
        idle["linkcast"]["cost_mb"],
        idle["bare_websockets"]["cost_mb"],
    ]
    ax.bar(mem_names, mem, color=["#d62728", "#d62728", "#999999"] + ["#999999"] * len(scrapy) + ["#d62728", "#1f77b4"])
    ax.set_title("peak RSS (MB); idle clients: RSS added")
    for x, v in enumerate(mem):
        ax.annotate(f"{v:,.0f}", (x, v), ha="center", va="bottom", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _client_axis(ax: Any, counts: list[int]) -> None:
    """Log-log axes with the client counts written plainly."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(counts, [str(c) for c in counts])
    ax.minorticks_off()
    ax.set_xlabel("WebSocket clients")
