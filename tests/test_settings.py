"""Settings: flags and environment variables."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from linkcast.core.errors import ConfigurationError
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


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("Yes", True), (" on ", True), ("0", False), ("off", False)])
def test_a_boolean_variable_takes_the_usual_words(raw: str, value: bool) -> None:
    assert Settings.from_env({"LINKCAST_ALLOW_PRIVATE_NETWORKS": raw}).allow_private_networks is value


def test_a_boolean_variable_that_is_neither_true_nor_false_is_refused_not_read_as_false() -> None:
    with pytest.raises(ConfigurationError, match="is not a boolean") as refused:
        Settings.from_env({"LINKCAST_ALLOW_PRIVATE_NETWORKS": "y"})
    assert refused.value.code == "invalid_setting"
