"""What the API accepts, as pure rules: request ids, ``since`` and stream filters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkcast.core.errors import InvalidInput
from linkcast.core.inputs import (
    MAX_STREAM_FILTERS,
    validate_request_id,
    validate_since,
    validate_stream_filters,
)


@pytest.mark.parametrize("request_id", [".", ".."])
def test_dot_segment_ids_are_refused_since_clients_rewrite_them(request_id: str) -> None:
    with pytest.raises(InvalidInput, match="could never be read back") as refused:
        validate_request_id(request_id)
    assert refused.value.code == "invalid_request_id"


@pytest.mark.parametrize("request_id", ["...", ".a", "a..", "._~-"])
def test_ids_with_dots_that_are_not_dot_segments_are_accepted(request_id: str) -> None:
    assert validate_request_id(request_id) == request_id


@pytest.mark.parametrize("since", ["0", "42", "9" * 19])
def test_since_of_ascii_digits_is_read_as_its_number(since: str) -> None:
    assert validate_since(since) == int(since)


@pytest.mark.parametrize(
    "since",
    ["", "-1", "+1", " 1", "1.5", "abc", "\u00b2", "\u0663", "\uff11", "1" * 20, "9" * 5000],
    ids=["empty", "negative", "plus", "space", "decimal", "letters", "superscript", "arabic-indic", "fullwidth",
         "20-digits", "5000-digits"],
)  # fmt: skip
def test_since_that_is_not_a_bounded_ascii_number_is_invalid(since: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_since(since)
    assert refused.value.code == "invalid_since"


@given(st.text(max_size=30))
def test_since_is_either_refused_as_invalid_or_a_non_negative_number(since: str) -> None:
    try:
        value = validate_since(since)
    except InvalidInput as refused:
        assert refused.code == "invalid_since"
    else:
        assert value >= 0 and str(value) == since.lstrip("0").rjust(1, "0")


def test_stream_filters_up_to_the_bound_are_accepted() -> None:
    ids = [f"r{n}" for n in range(MAX_STREAM_FILTERS)]
    assert validate_stream_filters(ids) == ids


def test_stream_filters_past_the_bound_are_refused_with_the_bound_in_the_message() -> None:
    with pytest.raises(InvalidInput, match=f"at most {MAX_STREAM_FILTERS}") as refused:
        validate_stream_filters([f"r{n}" for n in range(MAX_STREAM_FILTERS + 1)])
    assert refused.value.code == "too_many_filters"


def test_each_stream_filter_is_a_valid_request_id() -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_stream_filters(["ok", ".."])
    assert refused.value.code == "invalid_request_id"
