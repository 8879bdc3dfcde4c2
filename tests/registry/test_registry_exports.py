"""``mlsteward.registry`` exports exactly its ``__all__``, all of them Steward's own."""

from __future__ import annotations

import types

import mlsteward.registry as registry


def test_all_lists_exactly_the_public_names() -> None:
    exported = set(registry.__all__)
    assert len(exported) == len(registry.__all__)
    public = {
        name
        for name, value in vars(registry).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == exported
    for name in exported:
        value = getattr(registry, name)
        if isinstance(value, type | types.FunctionType):
            assert value.__module__.startswith("mlsteward.registry."), name


def test_the_client_exposes_the_registry() -> None:
    from mlsteward.client import Client

    for name in ("models", "load_model", "package"):
        assert hasattr(Client, name)
    assert {"register", "get", "list", "alias", "deprecate", "retire", "lineage"} <= set(
        dir(registry.Models)
    )
