"""The live page: ``GET /`` serves ``static/index.html``; its style, icon and script are the app's ``/static/`` files.

The page shows recent history by replaying the event log with ``?since=``. To know where "recent" begins without a
replay of the whole log or a new API call, the page is told here: the id from which to replay, written into a
``<meta>`` tag when the page is served. The page itself is public (it must load to ask for a token); it holds no
data, only that one number.

The script is ES modules, ``static/page/*.js`` (``main.js`` imports the rest). Style and icon are versioned by
their content (``?v=<digest>``) and cached for hours; the modules cannot be: an ``import "./stream.js"`` resolves
against the importing module's URL without its query, so a version on ``main.js`` would not reach the files it
imports, and a page could run a new ``main.js`` with yesterday's ``stream.js`` from the browser's cache. The modules
are served ``no-cache`` instead (revalidated on each load: a 304 by their ETag while unchanged) and all preloaded
from the page, so the browser asks for them at once rather than one import at a time.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from quart import Blueprint, Response, request

from linkcast.web.current import runtime

page = Blueprint("page", __name__)

STATIC = Path(__file__).parent / "static"
MODULES = "page"  # the folder of the page's ES modules under static/
MODULES_URL = f"/static/{MODULES}/"
HISTORY_PLACEHOLDER = "{{history_from}}"
ASSETS_PLACEHOLDER = "{{assets}}"
PRELOADS_PLACEHOLDER = "{{module_preloads}}"
ASSETS = ("style.css", "icon.svg")  # versioned by their content
# About 200 requests at three events each (accepted, started, result); the page keeps at most 200 requests anyway.
HISTORY_EVENTS = 600

# Nothing is loaded from elsewhere: scripts, styles and connections are the page's own origin only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
)


def module_names() -> list[str]:
    """The page's modules, ``main.js`` first (the one the page runs)."""
    names = sorted(path.name for path in (STATIC / MODULES).glob("*.js"))
    return sorted(names, key=lambda name: name != "main.js")


@cache
def index_template() -> str:
    """index.html with its style and icon URLs versioned by their content (a new release's page never loads
    yesterday's cached style) and a ``modulepreload`` link for every module."""
    digest = hashlib.sha256()
    for name in ASSETS:
        digest.update((STATIC / name).read_bytes())
    preloads = "\n  ".join(f'<link rel="modulepreload" href="{MODULES_URL}{name}">' for name in module_names())
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    return html.replace(PRELOADS_PLACEHOLDER, preloads).replace(ASSETS_PLACEHOLDER, digest.hexdigest()[:12])


def history_start(last_event_id: int, events: int = HISTORY_EVENTS) -> int:
    """The ``since`` from which the page replays: the last ``events`` events of the log."""
    return max(0, last_event_id - events)


@page.get("/")
async def index() -> Response:
    last = await runtime().store.last_event_id()
    html = index_template().replace(HISTORY_PLACEHOLDER, str(history_start(last)))
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    return Response(html, content_type="text/html; charset=utf-8", headers=headers)


@page.after_app_request
async def revalidate_modules(response: Response) -> Response:
    """The modules' answers (from Quart's static route) say ``no-cache``: see the module's docstring."""
    if request.path.startswith(MODULES_URL):
        response.headers["Cache-Control"] = "no-cache"
        response.headers.pop("Expires", None)
    return response
