"""Photographs of the page for the README: light, dark and on a phone, each checked on the way (the dark palette in
effect, nothing wider than a phone's screen). ``LINKCAST_UPDATE_SCREENSHOT=1`` writes the light one to ``docs/``."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Page


async def photograph(page: Page, prefix: Path, docs_file: Path) -> None:
    """Write ``<prefix>-light.png``, ``-dark.png`` and ``-phone.png``, and ``docs_file`` when asked to."""
    shots = {"light": await page.screenshot(full_page=True), "dark": await _dark(page), "phone": await _phone(page)}
    for name, png in shots.items():
        prefix.with_name(f"{prefix.name}-{name}.png").write_bytes(png)
    if os.environ.get("LINKCAST_UPDATE_SCREENSHOT", "") not in ("", "0"):
        docs_file.write_bytes(shots["light"])


async def _dark(page: Page) -> bytes:
    await page.emulate_media(color_scheme="dark")
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 18, 23)"  # the dark palette is in effect
    png = await page.screenshot(full_page=True)
    await page.emulate_media(color_scheme="light")
    return png


async def _phone(page: Page) -> bytes:
    await page.set_viewport_size({"width": 390, "height": 844})
    overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways on a phone by {overflow} px"
    png = await page.screenshot(full_page=True)
    await page.set_viewport_size({"width": 1100, "height": 800})
    return png
