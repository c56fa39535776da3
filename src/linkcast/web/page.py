"""The live page: ``GET /`` serves ``static/index.html``; its script, style and icon are the app's ``/static/`` files.

The page shows recent history by replaying the event log with ``?since=``. To know where "recent" begins without a
replay of the whole log or a new API call, the page is told here: the id from which to replay, written into a
``<meta>`` tag when the page is served. The page itself is public (it must load to ask for a token); it holds no
data, only that one number.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from quart import Blueprint, Response

from linkcast.web.current import runtime

page = Blueprint("page", __name__)

STATIC = Path(__file__).parent / "static"
HISTORY_PLACEHOLDER = "{{history_from}}"
ASSETS_PLACEHOLDER = "{{assets}}"
ASSETS = ("app.js", "style.css", "icon.svg")
# About 200 requests at three events each (accepted, started, result); the page keeps at most 200 requests anyway.
HISTORY_EVENTS = 600

# Nothing is loaded from elsewhere: scripts, styles and connections are the page's own origin only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
)


@cache
def index_template() -> str:
    """index.html with its asset URLs versioned by their content: the static files are cached by browsers for
    hours, and this makes a new release's page load its own script, never yesterday's."""
    digest = hashlib.sha256()
    for name in ASSETS:
        digest.update((STATIC / name).read_bytes())
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    return html.replace(ASSETS_PLACEHOLDER, digest.hexdigest()[:12])


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
