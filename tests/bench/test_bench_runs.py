"""Every bench runs end to end at a tiny size and reports each of its figures, so the bench code cannot rot: the side
by side run (``bench.run``) fills every row of its table, and ``bench_store``, ``bench_workers`` and ``bench_hostile``
write every part's figures. How fast anything was is not checked (timing belongs in the bench, as ratios against a
baseline run beside it, not in pass/fail tests); that each figure was measured, and that what it measured did what it
should (every page done, no error counted as a page, the stalled client dropped), is."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.driver import frame_head
from bench.profile import py_spy
from bench.run import parse_args

from linkcast.core.errors import FetchError
from linkcast.core.events import error_body, result_body
from tests.support.strict import require

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--pages", "20", "--clients", "1,3", "--latency-requests", "10", "--latency-rate", "50",
    "--prototype-pages", "20", "--idle-clients", "20", "--scrapy-concurrency", "4,8", "--site-processes", "1",
    "--parser-pages", "5", "--parser-mb", "0.3", "--parser-repeats", "1", "--timeout", "30", "--repeats", "1",
]  # fmt: skip
BENCH_MODULES = ("scrapy", "bs4", "hypercorn", "requests", "lxml", "matplotlib")
STORE_TINY = [
    "--events", "200", "--append-events", "1000", "--clients", "3", "--rounds", "1", "--compression-events", "200",
    "--compression-rounds", "1", "--slow-events", "2000", "--slow-rounds", "1",
]  # fmt: skip
WORKERS_TINY = ["--pages", "30", "--runs", "1", "--store-jobs", "100", "--store-loops", "4"]
HOSTILE_ATTACKS = ["404", "500", "loop-a", "to-metadata", "reset", "octet-stream"]
HOSTILE_TINY = [
    "--parts", "site,parsing", "--rounds", "1", "--attacks", ",".join(HOSTILE_ATTACKS), "--normal-pages", "3",
    "--interval", "0.05",
    "--parse-links", "5000", "--parse-depth", "2000",
]  # fmt: skip


def require_modules(*names: str) -> None:
    missing = [name for name in names if importlib.util.find_spec(name) is None]
    require(not missing, f"the bench extra is not installed (missing {missing}): pip install -e '.[bench]'")


def run_bench(module: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``python -m bench.<module> ARGS`` from the repository's root; fails with its output's tail unless it exits 0."""
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def bench_figures(module: str, tmp_path: Path, *args: str, timeout: float) -> dict[str, Any]:
    """Run a bench with ``--json`` and return the figures it wrote."""
    out = tmp_path / f"{module}.json"
    run_bench(module, *args, "--json", str(out), timeout=timeout)
    figures: dict[str, Any] = json.loads(out.read_text())
    return figures


def table_rows(markdown: str) -> list[list[str]]:
    """The cells of the first markdown table (the results), header and separator excluded."""
    lines = markdown.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("| metric |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def is_number(cell: str) -> bool:
    """A figure as the table writes it (``1,067``, ``2.0``; a difference of two CPU readings may be negative)."""
    return cell.replace(",", "").replace(".", "").removeprefix("-").isdigit()


def test_bench_runs_end_to_end_and_fills_every_row(tmp_path: Path) -> None:
    require_modules(*BENCH_MODULES)
    plot = tmp_path / "results.png"
    done = run_bench("run", *TINY, "--out", str(tmp_path), "--plot", str(plot), timeout=100)

    markdown = (tmp_path / "results.md").read_text()
    assert markdown in done.stdout  # the table is printed as well as written
    rows = table_rows(markdown)
    header = next(line for line in markdown.splitlines() if line.startswith("| metric |"))
    columns = [cell.strip() for cell in header.strip().strip("|").split("|")]
    metrics = [row[0] for row in rows]
    for expected in ("pages/s, 1 client(s)", "pages/s, 3 client(s)", "latency p50 ms, 3 client(s)",
                     "latency p99 ms, 3 client(s)", "frames/s delivered, 3 client(s)", "peak RSS MB, 1 client(s)",
                     "RSS cost MB of 20 idle clients", "extraction MB/s, generated pages",
                     "CPU ms per page, 3 client(s)", "fan-out CPU us per frame, 3 vs 1 client(s)"):  # fmt: skip
        assert expected in metrics, metrics
    for row in rows:
        assert len(row) == len(columns), row
        cells = dict(zip(columns, row, strict=True))
        # linkcast's own figure is always measured ("(incomplete)" after it fails this); so is the baseline's, but
        # for the fan-out cost and idle clients (the prototype has no such figure); and the ceiling or reference,
        # but for peak RSS. A "—" in any of these is a figure that went missing.
        assert is_number(cells["linkcast"]), row
        if not row[0].startswith(("fan-out CPU", "RSS cost")):
            assert is_number(cells["prototype"]), row
        if not row[0].startswith("peak RSS"):
            assert is_number(cells["ceiling"].split(" (")[0]), row

    assert "### The CPU a page behind 20x the prototype" in markdown
    results = json.loads((tmp_path / "results.json").read_text())
    for system in ("linkcast", "prototype"):
        for figures in results[system].values():
            assert figures["crawl_complete"] and figures["latency_complete"], (system, figures)
            # An error ends a request as surely as a result, and sooner: every page must have been fetched.
            assert figures["crawl_failed"] == figures["latency_failed"] == 0, (system, figures)
            assert figures["pages"] == 20
            assert figures["driver_cpu_ms_per_page"] > 0  # the driver PUT and read every page of the crawl
            assert figures["site_cpu_ms_per_page"] >= 0  # the site's CPU, in psutil's 10 ms ticks: may read none
    assert {s["pages"] for s in results["scrapy"].values()} == {20}
    assert {s["failures"] for s in results["scrapy"].values()} == {0}
    for clients, bare in results["bare_websockets"].items():
        assert bare["complete"] and bare["frames_per_second"] > 0, (clients, bare)
    assert results["idle"]["linkcast"]["connected"] == results["idle"]["bare_websockets"]["connected"] == 20
    ceilings = results["ceilings"]
    assert all(ceilings[key] > 0 for key in ceilings if key != "site_requests_per_second"), ceilings
    assert ceilings["site_requests_per_second"] is None or ceilings["site_requests_per_second"] > 0  # None: no wrk
    assert "generated pages" in [corpus["corpus"] for corpus in results["parser"]]
    for corpus in results["parser"]:
        assert all(rate > 0 for rate in corpus["rates"].values()) and corpus["share"] > 0, corpus
    # The profiled crawl (a container may forbid py-spy's ptrace: the text then says so, after the crawl's figures).
    profile = results["profile"]
    if py_spy() is None:
        assert profile.startswith("py-spy is not installed"), profile[:300]
    else:
        assert profile.startswith("linkcast crawl of 20 pages under py-spy:"), profile[:300]
        assert "incomplete" not in profile and "ended in an error" not in profile, profile[:300]
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_the_load_driver_tells_a_failed_request_from_a_fetched_page() -> None:
    """The bench.run check that no page ended in an error rests on this: linkcast's error events and the prototype's
    failed results (no type, an "error" key) are told from results, whatever the links hold."""
    url = "http://127.0.0.1:8000/p/1.html"
    links = [f"http://127.0.0.1:8000/error/{n}" for n in range(50)] + ['http://127.0.0.1:8000/"error":']
    result = result_body("r1", url, final_url=url, status_code=200, links=links, links_truncated=False, timings={})
    error = error_body("r2", url, FetchError("timed out", code="timeout"), timings={})
    assert frame_head(result.framed(7).json) == ("result", "r1")
    assert frame_head(error.framed(8).json) == ("error", "r2")
    # The prototype's frames, as bench/peers/prototype.py sends them.
    assert frame_head(json.dumps({"request_id": "r3", "url": url, "links": links})) == ("result", "r3")
    failed = {"request_id": "r4", "url": url, "links": [], "error": "ConnectionError('refused')"}
    assert frame_head(json.dumps(failed)) == ("error", "r4")


def test_an_empty_plot_option_means_no_plot() -> None:
    assert parse_args(["--plot", ""]).plot is None
    assert parse_args(["--plot", "out.png"]).plot == Path("out.png")


def test_bench_store_measures_every_part(tmp_path: Path) -> None:
    require_modules("aiosqlite", "psutil")
    figures = bench_figures("bench_store", tmp_path, *STORE_TINY, timeout=90)

    [alone] = figures["store_alone"]  # one round
    assert set(alone) == {"memory", "sqlite_group_commit", "sqlite_commit_per_append", "aiosqlite_commit_per_append"}
    assert all(rate > 0 for rate in alone.values()), alone
    assert {(run["store"], run["clients"]) for run in figures["throughput"]} == {
        ("memory", 0), ("memory", 3), ("sqlite", 0), ("sqlite", 3)
    }  # fmt: skip
    for run in figures["throughput"]:
        assert run["append_per_second"] > 0 and run["delivered_per_second"] > 0, run
    assert set(figures["throughput_medians"]) == {"memory", "sqlite"}
    assert [run["compression"] for run in figures["compression"]] == [None, "deflate"]
    for run in figures["compression"]:
        # Server CPU comes in the kernel's 10 ms ticks: a tiny run may read none.
        assert run["delivered_per_second"] > 0 and run["server_cpu_seconds"] >= 0, run
    [capacity] = figures["capacity"]
    assert capacity["linkcast_frames_per_second"] > 0 and capacity["bare_frames_per_second"] > 0, capacity
    assert capacity["ratio_frames_per_second"] > 0, capacity
    # The slow-client part: the healthy client gets every event either way; the one that never reads is dropped as
    # too slow (4008), and the other run has no such client.
    assert [(run["stalled"], run["close_code"]) for run in figures["slow_client"]] == [(False, None), (True, 4008)]
    for run in figures["slow_client"]:
        assert run["delivery_seconds"] > 0 and run["rss_before_mib"] > 0 and run["rss_after_mib"] > 0, run


def test_bench_workers_measures_one_and_two_worker_processes_and_redis(tmp_path: Path, redis_url: str) -> None:
    require_modules("psutil")
    figures = bench_figures("bench_workers", tmp_path, "--redis", redis_url, *WORKERS_TINY, timeout=90)

    for processes in (1, 2):
        run = figures[f"workers_{processes}"]
        assert figures[f"failed_pages_{processes}"] == 0, figures  # every page ended in a result, none in an error
        assert run["pages_per_second"] > 0 and run["cpu_ms_per_page_workers"] > 0, run
        assert run["cpu_ms_per_page_redis"] > 0, run  # Redis reports its CPU in microseconds
        assert run["cpu_ms_per_page_site"] >= 0 and run["cpu_ms_per_page_driver"] >= 0, run  # 10 ms ticks
    assert figures["ratio_2_vs_1"] > 0
    redis = figures["redis"]
    assert redis["jobs"] == 100, redis
    for key in ("jobs_per_second", "redis_cpu_ms_per_job", "jobs_per_second_per_redis_core", "bytes_per_event",
                "bytes_per_request"):  # fmt: skip
        assert redis[key] > 0, (key, redis)


def test_bench_hostile_measures_the_service_under_attack(tmp_path: Path) -> None:
    require_modules("psutil")
    figures = bench_figures("bench_hostile", tmp_path, *HOSTILE_TINY, "--log", str(tmp_path / "serve.log"), timeout=90)

    assert figures["attacks"] == len(HOSTILE_ATTACKS)
    # Each attack ended as its case in tests/hostile expects (an attack refused outright would be fast and empty).
    assert figures["unexpected_outcomes"] == {}
    assert figures["attack_seconds"] > 0
    for phase in ("baseline", "under_attack"):
        assert figures[f"{phase}_failed"] == 0, figures
        assert figures[phase]["n"] == 3 and figures[phase]["median_ms"] > 0, figures[phase]
    assert figures["healthz_under_attack"]["n"] > 0 and figures["healthz_not_200"] == 0, figures
    assert figures["idle_rss_mib"] > 0 and figures["peak_rss_mib"] > 0, figures
    ways = sorted(label.rsplit(", ", 1)[1] for label in figures["event_loop"])
    assert ways == sorted(["inline", "thread", "process pool"] * 2), figures["event_loop"]
    for label, parse in figures["event_loop"].items():
        assert parse["took_ms"] > 0 and parse["longest_stall_ms"] > 0, (label, parse)
