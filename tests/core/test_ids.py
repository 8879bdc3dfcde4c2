"""Identifiers and user-chosen names."""

from __future__ import annotations

import re
import string
import time

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import mlsteward as ms
from mlsteward.core import NAME_PATTERN, new_id, validate_name


def test_new_id_is_32_hex_characters_starting_with_the_time() -> None:
    before = int(time.time() * 1000)
    value = new_id()
    after = int(time.time() * 1000)
    assert re.fullmatch(r"[0-9a-f]{32}", value)
    assert before <= int(value[:12], 16) <= after


def test_new_ids_are_unique_and_sort_by_creation_time() -> None:
    ids = {new_id() for _ in range(20_000)}
    assert len(ids) == 20_000
    first = new_id()
    time.sleep(0.003)
    second = new_id()
    assert first < second


@pytest.mark.parametrize(
    "name", ["a", "0", "acs-employment", "adult_2024", "v1.2.3", "a" * 63, "9lives", "x-"]
)
def test_valid_names(name: str) -> None:
    assert validate_name("project", name) == name


@pytest.mark.parametrize(
    "name",
    ["", "A", "Acs", "has space", "-lead", "_lead", ".lead", "a" * 64, "a/b", "é", "a\n", "a:b"],
)
def test_invalid_names_state_the_rule(name: str) -> None:
    with pytest.raises(ms.InvalidInput) as info:
        validate_name("dataset", name)
    message = str(info.value)
    assert message.startswith(f"Invalid dataset name {name!r}: a dataset name must be 1 to 63")
    assert (
        "lowercase letters, digits, '-', '_' or '.', starting with a letter or a digit" in message
    )


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("ACS Employment", "acs-employment"), ("My Model!", "my-model"), ("  Spaces  ", "spaces")],
)
def test_invalid_names_come_with_a_suggestion(name: str, suggestion: str) -> None:
    with pytest.raises(ms.InvalidInput, match=f"Try '{suggestion}'"):
        validate_name("project", name)


@pytest.mark.parametrize("name", [None, 5, b"acs", ["acs"]])
def test_non_text_names_are_refused(name: object) -> None:
    with pytest.raises(ms.InvalidInput, match="Invalid model name"):
        validate_name("model", name)


def _follows_the_rule(name: str) -> bool:
    """The rule in words, checked without the regular expression."""
    allowed = set(string.ascii_lowercase + string.digits + "-_.")
    return (
        1 <= len(name) <= 63
        and all(c in allowed for c in name)
        and name[0] in string.ascii_lowercase + string.digits
    )


@given(st.text(alphabet=string.ascii_letters + string.digits + "-_. /é\n", max_size=70))
@example("a\n")
@example("a" * 63 + "\n")
def test_validate_name_agrees_with_the_rule(name: str) -> None:
    if _follows_the_rule(name):
        assert validate_name("project", name) == name
        assert NAME_PATTERN.match(name)
    else:
        with pytest.raises(ms.InvalidInput) as info:
            validate_name("project", name)
        suggested = re.search(r"Try '(.*)'\.$", str(info.value))
        if suggested:  # a suggestion is always itself a valid name
            assert _follows_the_rule(suggested.group(1))
