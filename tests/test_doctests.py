"""Docstring examples are tests: run the doctests of every module of the package."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import mlsteward

# Alembic's environment and revision scripts run only inside Alembic.
SKIP = ("mlsteward.store.migrations",)

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(mlsteward.__path__, "mlsteward.")
    if not info.name.startswith(SKIP)
)


def test_the_walk_finds_the_modules() -> None:
    assert {"mlsteward.core._ids", "mlsteward.store._audit", "mlsteward.datasets._loaders"} <= set(
        MODULES
    )


@pytest.mark.parametrize("name", ["mlsteward", *MODULES])
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctests failed in {name}"
