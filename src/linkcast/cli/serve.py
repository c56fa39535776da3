"""``linkcast serve``: the API, the WebSocket stream and in-process workers (``linkcast.server`` runs them)."""

from __future__ import annotations

import argparse

from linkcast.cli.command import Command
from linkcast.settings import add_settings_arguments, settings_from_args


def run(args: argparse.Namespace) -> int:
    from linkcast.server import serve  # uvicorn and Quart: loaded only by the commands that serve

    serve(settings_from_args(args))
    return 0


COMMAND = Command("serve", "run the API, the WebSocket stream and in-process workers", add_settings_arguments, run)
