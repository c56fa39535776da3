"""A group of routes as the spec describes them: one module of ``paths/`` each (urls, stream, service...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# OpenAPI objects are plain JSON; these names only say which kind a dict is.
Schema = dict[str, Any]
Operation = dict[str, Any]


@dataclass(frozen=True)
class RouteGroup:
    """The operations of some routes, by their rule in the app's URL map (Quart's ``<name>`` syntax) and method, and
    the schemas they refer to by name. ``tag`` groups them on the docs page, with ``description`` under it."""

    tag: str
    description: str
    operations: dict[str, dict[str, Operation]]
    schemas: dict[str, Schema] = field(default_factory=dict)
