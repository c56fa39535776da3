"""The OpenAPI description of every route, served at ``/openapi.json``, and ``/docs``, Swagger UI rendering it.

- ``paths/``: one module per group of routes (urls, stream, service), each a ``RouteGroup``: what to edit to
  describe a route. ``answers``: the pieces they are made of (the error format, the shared refusals).
- ``spec``: the document, put together from the groups for the routes the app has.
- ``docs``: the routes serving both; ``swagger``: the Swagger UI files, from the ``swagger-ui-py`` package.

Decision: the spec stays written by hand, not generated from typed models (quart-schema with pydantic), because:

- *The size of the change.* quart-schema describes what ``@validate_request``/``@validate_response`` declare: a
  pydantic model per body and per answer, on every handler, and its validation in front of ours. That validation
  reads ``request.get_json()``, which refuses the ``curl -d`` bodies (form content type, JSON text) that the
  seed-compatible API accepts, and answers in a format of its own; our checks (``core.inputs``, the address policy)
  would stay, so every rule would live twice.
- *The error format.* Generated or not, ``{"error": {"code", "message"}}`` is documented only where each error
  status of each route is declared: as much writing as ``answers.error(...)`` here, and checked the same way.
- *The WebSocket.* quart-schema leaves WebSocket routes out, so ``/scraped_urls`` would be written by hand anyway.
- *The dependencies.* pydantic and its compiled core for documentation alone, and quart-schema's own docs pages
  load their scripts from CDNs (to be turned off).

What keeps the hand-written spec true: ``tests/web/test_openapi.py`` fails when any method of any route of the app
is not described, and runs schemathesis against the live server over every operation (status codes, media types
and bodies as described). Should bodies grow large (crawl settings), a model's ``model_json_schema()`` can fill a
group's ``schemas`` without putting quart-schema in front of the handlers.
"""

from __future__ import annotations

from linkcast.web.openapi.docs import openapi
from linkcast.web.openapi.group import RouteGroup
from linkcast.web.openapi.spec import build_spec, openapi_path

__all__ = ["RouteGroup", "build_spec", "openapi", "openapi_path"]
