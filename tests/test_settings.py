"""Settings: flags and environment variables."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from linkcast.core.errors import ConfigurationError
from linkcast.settings import AT_LEAST_ONE, Settings, add_settings_arguments


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


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"port": 99_999}, "--port 99999 (LINKCAST_PORT): a port is 0 to 65535"),
        ({"metrics_port": 70_000}, "--metrics-port 70000"),
        ({"workers": -3}, "--workers -3 (LINKCAST_WORKERS): give a number of 0 or more"),
        ({"fetch_timeout": float("nan")}, "--fetch-timeout nan"),
        ({"retain_days": float("inf")}, "--retain-days inf"),
    ],
)
def test_a_number_that_is_negative_not_finite_or_past_the_last_port_is_refused(
    changes: dict[str, object], says: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings(**changes)  # type: ignore[arg-type]
    assert refused.value.code == "invalid_setting" and says in refused.value.message


@pytest.mark.parametrize("name", sorted(AT_LEAST_ONE))
def test_a_bound_that_zero_would_make_refuse_everything_is_refused_at_zero(name: str) -> None:
    """A timeout or size of 0 would fail every fetch, parse, client or crawl (``--max-crawl-pages 0`` made every
    PUT /crawls a 500), while the service looked healthy."""
    with pytest.raises(ConfigurationError) as refused:
        Settings(**{name: 0})
    option = f"--{name.replace('_', '-')} 0 (LINKCAST_{name.upper()})"
    assert refused.value.code == "invalid_setting" and f"{option}: give a number above 0" in refused.value.message


def test_the_same_refusal_reaches_settings_from_the_environment() -> None:
    with pytest.raises(ConfigurationError, match=r"--per-host-delay -1\.0 \(LINKCAST_PER_HOST_DELAY\)"):
        Settings.from_env({"LINKCAST_PER_HOST_DELAY": "-1"})
    assert Settings(port=0, workers=0, per_host_delay=0.0).port == 0  # zero is a number like any other here


def test_a_shortest_feed_interval_past_the_longest_is_refused_not_read_as_the_longest() -> None:
    """Clamped to [min, max], every interval was the maximum: the polls came sooner than the shortest time between
    two that the operator set."""
    with pytest.raises(ConfigurationError) as refused:
        Settings(feed_min_interval=7200.0, feed_max_interval=3600.0)
    assert refused.value.code == "invalid_setting"
    assert "--feed-min-interval 7200 is longer than --feed-max-interval 3600" in refused.value.message
    assert Settings(feed_min_interval=0.0, feed_max_interval=0.0).feed_max_interval == 0.0  # the bench's "at once"


@pytest.mark.parametrize(
    "entry", ["notanorigin", "https://app.example/path", "https://", "app.example:443", "*.example"]
)
def test_an_allowed_origin_that_no_browser_can_send_is_refused(entry: str) -> None:
    """An Origin is scheme://host[:port]: an entry of another shape allowed no page at all, and said nothing."""
    with pytest.raises(ConfigurationError, match="an Origin is scheme://host") as refused:
        Settings(allowed_origins=("https://ok.example", entry))
    assert refused.value.code == "invalid_setting" and repr(entry) in refused.value.message
    for fine in ("*", "null", "http://localhost:3000", "https://app.example/", "chrome-extension://abcdef"):
        assert Settings(allowed_origins=(fine,)).allowed_origins == (fine,)
