"""``bench_crawl``'s figures as markdown tables: each figure beside its baseline, the ratio, and the target."""

from __future__ import annotations

from typing import Any

from bench.ceilings import percentile

GB = 1024**3


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base else "—"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def crawl_table(crawl: dict[str, Any]) -> list[str]:
    lines = [
        "| site | linkcast pages/s | Scrapy CrawlSpider pages/s | fetch + parse ceiling pages/s | linkcast / Scrapy "
        "(target >= 3x) | linkcast / ceiling (target >= 0.5x) | CPU ms a page: linkcast / Scrapy / ceiling "
        "| pages crawled: linkcast / Scrapy / site |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, site in crawl.items():
        ours, scrapy, ceiling = site["linkcast"], site["scrapy"], site["ceiling"]
        to_scrapy = ours["pages_per_second"] / scrapy["pages_per_second"]
        to_ceiling = ours["pages_per_second"] / ceiling["pages_per_second"]
        lines.append(
            f"| {name} ({site['pages']:,} pages, {site['mb']:.1f} MB, depth {site['depth']}) "
            f"| {_n(ours['pages_per_second'])} | {_n(scrapy['pages_per_second'])} "
            f"| {_n(ceiling['pages_per_second'])} | {to_scrapy:.2f}x ({_met(to_scrapy >= 3)}) "
            f"| {to_ceiling:.2f}x ({_met(to_ceiling >= 0.5)}) "
            f"| {ours['cpu_ms_per_page']:.2f} / {scrapy['cpu_ms_per_page']:.2f} / {ceiling['cpu_ms_per_page']:.2f} "
            f"| {ours['pages']:,} / {scrapy['pages']:,} / {site['reachable']:,} |"
        )
    return lines


def workers_table(workers: dict[str, Any]) -> list[str]:
    one, two = workers["1"], workers["2"]
    return [
        "| linkcast on Redis, generated site | 1 worker process | 2 worker processes | 2 / 1 |",
        "| --- | --- | --- | --- |",
        f"| pages/s | {_n(one['pages_per_second'])} | {_n(two['pages_per_second'])} | {workers['ratio_2_vs_1']:.2f}x |",
        f"| CPU ms a page (API replica + workers) | {one['cpu_ms_per_page']:.2f} | {two['cpu_ms_per_page']:.2f} "
        f"| {two['cpu_ms_per_page'] / one['cpu_ms_per_page']:.2f}x |",
        f"| pages crawled | {one['pages']:,} | {two['pages']:,} | |",
    ]


def _parts(costs: dict[str, float], top: int = 4) -> str:
    parts = [(name, size) for name, size in costs.items() if name != "total"][:top]
    return ", ".join(f"{name} {size:,.0f}" for name, size in parts)


def memory_table(memory: dict[str, Any]) -> list[str]:
    lines = [
        "| store | URLs queued | service RSS MB: idle / all queued / done / peak | bytes a queued URL (largest parts) "
        "| bytes a visited URL (largest parts) | URLs in 1 GiB: queued / visited |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, figures in memory.items():
        queued, visited = figures["bytes_per_queued_url"], figures["bytes_per_visited_url"]
        lines.append(
            f"| {name} | {figures['queued_urls']:,} "
            f"| {figures['rss_before_mb']:.0f} / {figures['rss_queued_mb']:.0f} / {figures['rss_after_mb']:.0f} "
            f"/ {figures['peak_rss_mb']:.0f} "
            f"| {queued['total']:,.0f} ({_parts(queued)}) | {visited['total']:,.0f} ({_parts(visited)}) "
            f"| {GB / queued['total'] / 1e6:.1f} M / {GB / visited['total'] / 1e6:.1f} M |"
        )
    return lines


def fairness_table(sqlite: dict[str, Any]) -> list[str]:
    idle, busy = sqlite["idle_single"], sqlite["busy_single"]
    if not idle["seconds"] or not busy["seconds"]:
        return ["(no single request was timed)"]

    def ms(values: list[float], fraction: float) -> float:
        return percentile(values, fraction) * 1000

    def row(label: str, phase: str, fraction: float, target: str = "") -> str:
        before, during = ms(idle[phase], fraction), ms(busy[phase], fraction)
        return f"| {label} | {before:.1f} | {during:.1f} | {_ratio(during, before)} | {target} |"

    p50 = ms(busy["seconds"], 0.5) / ms(idle["seconds"], 0.5)
    note = "" if sqlite["crawl_outlasted_samples"] else " (the crawl ended before the last samples)"
    return [
        "| single request to host B | idle service | during a crawl of host A | ratio | target |",
        "| --- | --- | --- | --- | --- |",
        row("p50 ms, PUT sent to result frame", "seconds", 0.5, f"<= 2x: {_met(p50 <= 2)}"),
        row("p99 ms, PUT sent to result frame", "seconds", 0.99),
        row("p50 ms, PUT sent to its answer (the job stored)", "answered", 0.5),
        row("p50 ms, PUT sent to the started frame (a worker took it)", "started", 0.5),
        f"| samples (errors) | {len(idle['seconds'])} ({idle['errors']}) "
        f"| {len(busy['seconds'])} ({busy['errors']}){note} | | |",
    ]


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        f"bench_crawl: {machine['cpus']} CPUs, load average at the start {machine['loadavg_start']}, at the end "
        f"{machine.get('loadavg_end', '?')}; {results.get('seconds', 0):.0f} s in all; concurrency "
        f"{results['config']['concurrency']} for every crawler.",
        "",
    ]
    if "crawl" in results:
        lines += [*crawl_table(results["crawl"]), ""]
    if "workers" in results:
        lines += [*workers_table(results["workers"]), ""]
    if "memory" in results:
        lines += [*memory_table(results["memory"]), ""]
        sqlite = results["memory"].get("sqlite", {})
        if "idle_single" in sqlite:
            lines += [*fairness_table(sqlite), ""]
        for name, figures in results["memory"].items():
            lines.append(
                f"- {name}: {figures['queued_urls']:,} URLs queued in {figures['seconds_to_queue']:.1f} s, crawled in "
                f"{figures['seconds_to_drain']:.1f} s; final counts {figures['done_counts']}"
                + (f"; SQLite file {figures['sqlite_file_mb']:.0f} MB" if "sqlite_file_mb" in figures else "")
            )
    return "\n".join(lines) + "\n"
