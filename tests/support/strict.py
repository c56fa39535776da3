"""Skips that become failures under ``LINKCAST_TEST_STRICT=1`` (CI), so a missing Redis or Chromium is never silent."""

from __future__ import annotations

import os

import pytest

STRICT = os.environ.get("LINKCAST_TEST_STRICT", "") not in ("", "0", "false", "no")


def require(condition: bool, reason: str) -> None:
    """Skip with ``reason`` when ``condition`` is false; fail instead under strict mode."""
    if condition:
        return
    if STRICT:
        pytest.fail(f"{reason} (LINKCAST_TEST_STRICT=1: this is required, not skipped)")
    pytest.skip(reason)
