"""``mlsteward.data`` exports exactly its ``__all__`` (the lazily loaded names included)."""

from __future__ import annotations

import types

import mlsteward.data as data


def test_all_lists_exactly_the_public_names() -> None:
    exported = data.__all__
    assert len(exported) == len(set(exported))
    for member in exported:  # also loads the lazy ones (scikit-learn, report)
        assert hasattr(data, member), member
    public = {
        name
        for name, value in vars(data).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(exported)
    for member in exported:
        value = getattr(data, member)
        if isinstance(value, type | types.FunctionType):
            assert value.__module__.startswith("mlsteward."), member


def test_unknown_names_still_raise_attribute_error() -> None:
    assert not hasattr(data, "no_such_name")
