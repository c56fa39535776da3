"""A small disk of its own for a test: a tmpfs of a few MiB mounted in the test's folder, to fill up for real."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.support.strict import require

FILL_CHUNK = 64 * 1024


@contextlib.contextmanager
def small_disk(where: Path, size_mib: int = 8) -> Iterator[Path]:
    """A fresh tmpfs of ``size_mib`` MiB at ``where``, unmounted afterwards (mounting needs root: skipped without)."""
    require(os.geteuid() == 0, "mounting a small tmpfs to fill up needs root")
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill ``disk`` up to the last byte with one file, or but ``leave`` bytes (room for small writes, not for large
    ones); removing that file gives the space back."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out:
        for size in (FILL_CHUNK, 1):  # big writes, then the last few bytes one at a time, down to nothing
            try:
                while out.write(bytes(size)):
                    pass
            except OSError:
                pass
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler
