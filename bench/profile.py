"""Where linkcast's time goes: py-spy attached to ``linkcast serve`` during a crawl, summarised.

py-spy samples the process from outside (no change to the code under test); its raw output is one line per
distinct stack with a sample count. The summary gives the share of samples per thread, the functions that hold the
most samples themselves (self), and the share spent under chosen areas of linkcast and its libraries (inclusive).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# Inclusive areas: a sample counts for the first area whose marker appears in its stack (most specific first).
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("link extraction (core/links.py)", ("extract_links (linkcast/core/links.py",)),
    ("fetch: aiohttp client (fetch/client.py)", ("linkcast/fetch/",)),
    ("store (store/*)", ("linkcast/store/",)),
    ("hub fan-out and direct writes (hub.py)", ("linkcast/hub.py",)),
    ("WebSocket send of queued frames (web/stream.py, web/frame_writer.py)", ("linkcast/web/stream.py",)),
    ("HTTP API: PUT handling (web/api.py)", ("linkcast/web/api.py",)),
    ("Quart request/response machinery", ("quart/",)),
    ("uvicorn / httptools / websockets protocol", ("uvicorn/", "websockets/")),
    ("worker bookkeeping (worker.py)", ("linkcast/worker.py",)),
    ("metrics (prometheus_client)", ("prometheus_client/",)),
)


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


class Recording:
    """py-spy recording a running process until ``stop()``."""

    def __init__(self, pid: int, out: Path, rate: int = 200) -> None:
        binary = py_spy()
        if binary is None:
            raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
        self.out = out
        command = [binary, "record", "--pid", str(pid), "--format", "raw", "-o", str(out), "--rate", str(rate)]
        self.popen = subprocess.Popen([*command, "--threads"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(30)
        except subprocess.TimeoutExpired:
            self.popen.kill()


@dataclass
class Profile:
    """Sample counts from a raw py-spy file."""

    stacks: Counter[str]

    @classmethod
    def read(cls, path: Path) -> Profile:
        stacks: Counter[str] = Counter()
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks[stack] += int(count)
        return cls(stacks)

    @property
    def total(self) -> int:
        return sum(self.stacks.values())

    def thread(self, main: bool) -> Counter[str]:
        """The samples of the main thread (the event loop), or of every other thread."""
        return Counter({s: n for s, n in self.stacks.items() if ("MainThread" in s.split(";", 1)[0]) == main})

    def by_thread(self) -> Counter[str]:
        threads: Counter[str] = Counter()
        for stack, count in self.stacks.items():
            threads[stack.split(";", 1)[0]] += count
        return threads

    def self_time(self, stacks: Counter[str]) -> Counter[str]:
        frames: Counter[str] = Counter()
        for stack, count in stacks.items():
            frames[stack.rsplit(";", 1)[-1]] += count
        return frames

    def areas(self, stacks: Counter[str]) -> Counter[str]:
        found: Counter[str] = Counter()
        for stack, count in stacks.items():
            for name, markers in AREAS:
                if any(marker in stack for marker in markers):
                    found[name] += count
                    break
            else:
                found["other (event loop, asyncio, libraries)"] += count
        return found


def share(count: int, total: int) -> str:
    return f"{count / total:6.1%}" if total else "     -"


def summarise(path: Path, top: int = 15) -> str:
    """A plain-text report of one recording: threads, then the event loop's time by area and by function."""
    profile = Profile.read(path)
    total = profile.total
    main, others = profile.thread(main=True), profile.thread(main=False)
    main_total, others_total = sum(main.values()), sum(others.values())
    lines = [f"py-spy samples (threads running, not waiting): {total}", "", "By thread:"]
    lines += [f"  {share(n, total)}  {name}" for name, n in profile.by_thread().most_common()]
    lines += ["", "Main thread (the event loop) by area (inclusive, first match):"]
    lines += [f"  {share(n, main_total)}  {name}" for name, n in profile.areas(main).most_common()]
    lines += ["", f"Main thread, top {top} functions by self time:"]
    lines += [f"  {share(n, main_total)}  {name}" for name, n in profile.self_time(main).most_common(top)]
    if others_total:
        lines += ["", "Other threads, top functions by self time (a blocking wait in C can show as its caller):"]
        lines += [f"  {share(n, others_total)}  {name}" for name, n in profile.self_time(others).most_common(8)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(summarise(Path(sys.argv[1])))
