"""``linkcast worker``: workers only, sharing a Redis store with API replicas (``linkcast.server`` runs them)."""

from __future__ import annotations

import argparse

from linkcast.cli.command import Command
from linkcast.settings import add_settings_arguments, settings_from_args


def run(args: argparse.Namespace) -> int:
    from linkcast.server import run_workers  # the fetcher and the store: loaded only by the commands that use them

    run_workers(settings_from_args(args))
    return 0


COMMAND = Command("worker", "run workers only, sharing a Redis store with API replicas", add_settings_arguments, run)
