"""Settings: flags and environment variables."""

from __future__ import annotations

import argparse
import dataclasses

from linkcast.settings import Settings, add_settings_arguments


def test_every_setting_but_the_environment_only_ones_is_a_flag() -> None:
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser)
    flags = {action.dest for action in parser._actions if action.option_strings and action.dest != "help"}
    fields = dataclasses.fields(Settings)
    assert flags == {f.name for f in fields if f.metadata["flag"]}


def test_the_http_parser_is_chosen_by_environment_only() -> None:
    assert Settings.from_env({"LINKCAST_HTTP_PARSER": "h11"}).http_parser == "h11"
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser)
    assert "http_parser" not in {action.dest for action in parser._actions}
