"""Projects through the SDK, on every metadata backend."""

from __future__ import annotations

from typing import Any

import pytest

import mlsteward as ms


def test_create_get_list(client: Any) -> None:
    created = client.create_project("acs-employment", description="ACS task")
    assert client.get_project("acs-employment") == created
    client.create_project("adult")
    assert [p.name for p in client.list_projects()] == ["acs-employment", "adult"]
    assert created.created_by == "tester"


def test_duplicate_name_is_already_exists_and_store_unchanged(client: Any) -> None:
    client.create_project("acs")
    with pytest.raises(ms.AlreadyExists, match="Project 'acs' already exists"):
        client.create_project("acs", description="again")
    assert [p.description for p in client.list_projects()] == [""]
    assert client.verify_audit().count == 1


@pytest.mark.parametrize("bad", ["", "Upper", "has space", "-leading", "x" * 64, "a/b"])
def test_bad_names_are_refused_with_the_rule(client: Any, bad: str) -> None:
    with pytest.raises(ms.InvalidInput, match="lowercase letters, digits"):
        client.create_project(bad)
    assert client.list_projects() == []
    assert client.verify_audit().count == 0


def test_missing_project_names_known_ones(client: Any) -> None:
    client.create_project("one")
    with pytest.raises(ms.NotFound, match=r"Project 'two' does not exist\. Known projects: one"):
        client.get_project("two")
    with pytest.raises(LookupError):
        client.get_project("two")
