"""Swagger UI's own files, as the ``swagger-ui-py`` package ships them: ``/docs`` loads them from linkcast itself,
never from a CDN, so the page works offline and under a Content-Security-Policy of ``'self'``."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

# The files /docs loads, with their media types: the bundle (Swagger UI and its OpenAPI 3.1 support) and its style.
# Nothing else of the package is served (it also ships Swagger Editor, which /docs does not use).
SWAGGER_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
}


@cache
def swagger_ui_dir() -> Path:
    """The folder of the installed Swagger UI files (found, not imported: none of the package's code is used)."""
    found = importlib.util.find_spec("swagger_ui")
    if found is None or found.origin is None:
        raise RuntimeError("swagger-ui-py is not installed: /docs needs its files (pip install swagger-ui-py)")
    return Path(found.origin).parent / "static"


def swagger_asset(name: str) -> Path:
    """The file of one of ``SWAGGER_ASSETS``."""
    if name not in SWAGGER_ASSETS:
        raise KeyError(name)
    return swagger_ui_dir() / name
