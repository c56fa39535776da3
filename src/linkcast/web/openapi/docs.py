"""``/openapi.json``, and ``/docs``: Swagger UI rendering it, with "Try it out" against this server.

Every file the page loads is served here: its HTML, script and style from ``web/static/`` (``docs.*``), Swagger UI's
from the ``swagger-ui-py`` package under ``/docs/swagger-ui/``. Its Content-Security-Policy is the live page's, so
nothing from elsewhere can load and no inline script can run: Swagger UI is configured by ``static/docs.js``.
"""

from __future__ import annotations

import hashlib
from functools import cache

import orjson
from quart import Blueprint, Response, current_app, send_file

from linkcast.core.errors import NotFound
from linkcast.web.guard import guard
from linkcast.web.openapi.answers import JSON
from linkcast.web.openapi.spec import build_spec
from linkcast.web.openapi.swagger import SWAGGER_ASSETS, swagger_asset
from linkcast.web.page import CONTENT_SECURITY_POLICY, STATIC

openapi = Blueprint("openapi", __name__)

ASSETS_PLACEHOLDER = "{{assets}}"
OWN_ASSETS = ("docs.js", "docs.css", "icon.svg")
# The asset URLs carry a digest of their content (?v=), so a day of caching never serves a stale file.
ASSET_MAX_AGE_SECONDS = 86_400
DOCS_HEADERS = {
    "Cache-Control": "no-store",
    # The live page's policy, relaxed in nothing: Swagger UI 5 runs no inline script (docs.js configures it), and
    # React sets its inline styles through the DOM's style properties, which style-src does not govern.
    # tests/browser/test_docs.py fails on any load the policy refuses.
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@cache
def docs_page() -> str:
    """docs.html with its asset URLs versioned by their content (ours and Swagger UI's)."""
    digest = hashlib.sha256()
    for path in [STATIC / name for name in OWN_ASSETS] + [swagger_asset(name) for name in SWAGGER_ASSETS]:
        digest.update(path.read_bytes())
    html = (STATIC / "docs.html").read_text(encoding="utf-8")
    return html.replace(ASSETS_PLACEHOLDER, digest.hexdigest()[:12])


@openapi.get("/openapi.json")
async def openapi_json() -> Response:
    rules = {rule.rule for rule in current_app.url_map.iter_rules()}
    return Response(orjson.dumps(build_spec(rules, bool(guard().token))), content_type=JSON)


@openapi.get("/docs")
async def docs() -> Response:
    return Response(docs_page(), content_type="text/html; charset=utf-8", headers=DOCS_HEADERS)


@openapi.get("/docs/swagger-ui/<asset>")
async def swagger_ui_asset(asset: str) -> Response:
    media_type = SWAGGER_ASSETS.get(asset)
    if media_type is None:
        raise NotFound(f"no file {asset!r}: /docs/swagger-ui/ serves {', '.join(SWAGGER_ASSETS)}")
    response = await send_file(
        swagger_asset(asset), mimetype=media_type, conditional=True, cache_timeout=ASSET_MAX_AGE_SECONDS
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
