"""The page's HTTP side, no browser needed: public even with a token, self-contained, told where history begins,
its modules revalidated."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp

from linkcast.web.page import HISTORY_EVENTS, STATIC, history_start
from tests.support.service import Service


def test_history_starts_a_fixed_number_of_events_back() -> None:
    assert history_start(0) == 0
    assert history_start(HISTORY_EVENTS) == 0
    assert history_start(HISTORY_EVENTS + 42) == 42


async def test_the_page_and_its_files_are_public_and_load_nothing_from_elsewhere(tmp_path: Path) -> None:
    service = Service("--token", "s3cret", store=f"sqlite:///{tmp_path}/db", log_path=tmp_path / "log")
    await service.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(service.base_url + "/") as response:
                assert response.status == 200
                assert response.content_type == "text/html"
                assert "default-src 'self'" in response.headers["Content-Security-Policy"]
                html = await response.text()
            assert "{{" not in html
            assert re.search(r'<meta name="linkcast-history-from" content="0">', html)
            assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
            assert not re.search(r'(?:src|href)="(?:https?:)?//', html)  # nothing from a CDN
            versioned = [a for a in assets if not a.startswith("/static/page/")]
            assert len(versioned) == 2 and all(re.search(r"\?v=[0-9a-f]{12}$", a) for a in versioned)
            modules = sorted(path.name for path in (STATIC / "page").glob("*.js"))
            assert re.search(r'<script type="module" src="/static/page/main.js">', html)
            assert sorted(re.findall(r'<link rel="modulepreload" href="/static/page/([^"]+)">', html)) == modules
            for asset in assets:
                async with session.get(service.base_url + asset) as response:
                    assert response.status == 200, asset
                    if asset.startswith("/static/page/"):
                        assert response.content_type in ("text/javascript", "application/javascript"), asset
                        assert response.headers["Cache-Control"] == "no-cache", asset
            async with session.get(service.base_url + "/urls/x") as response:
                assert response.status == 401  # the API itself still needs the token
    finally:
        service.stop()


async def test_an_unchanged_module_is_revalidated_with_a_304(tmp_path: Path) -> None:
    """The modules cannot carry the page's version (their imports drop it), so each load asks whether they changed."""
    service = Service(store=f"sqlite:///{tmp_path}/db", log_path=tmp_path / "log")
    await service.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(service.base_url + "/static/page/main.js") as response:
                assert response.status == 200
                etag = response.headers["ETag"]
            headers = {"If-None-Match": etag}
            async with session.get(service.base_url + "/static/page/main.js", headers=headers) as response:
                assert response.status == 304
                assert response.headers["Cache-Control"] == "no-cache"
    finally:
        service.stop()
