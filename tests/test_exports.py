"""Each public package exports exactly what its ``__all__`` says (httpx style).

Everything a package namespace shows without a leading underscore is in ``__all__``, and
everything in ``__all__`` exists. Subpackages and modules are namespaces of their own and
are not counted; private modules (``_name``) are never re-exported by name.
"""

from __future__ import annotations

import importlib
import types

import pytest

PACKAGES = [
    "mlsteward",
    "mlsteward.core",
    "mlsteward.store",
    "mlsteward.client",
    "mlsteward.projects",
    "mlsteward.datasets",
    "mlsteward.data",
    "mlsteward.reports",
    "mlsteward.charter",
    "mlsteward.tracking",
    "mlsteward.registry",
    "mlsteward.evaluation",
]
PUBLIC_DUNDERS = {"__version__"}


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_exactly_the_public_names(name: str) -> None:
    package = importlib.import_module(name)
    exported = package.__all__
    assert len(exported) == len(set(exported)), "duplicates in __all__"
    for member in exported:
        assert hasattr(package, member), f"{name}.__all__ names {member!r}, which is missing"
    public = {
        member
        for member, value in vars(package).items()
        if (not member.startswith("_") or member in PUBLIC_DUNDERS)
        and not isinstance(value, types.ModuleType)
    }
    assert public == set(exported), (
        f"{name}: not in __all__: {sorted(public - set(exported))}; "
        f"in __all__ but not public: {sorted(set(exported) - public)}"
    )


@pytest.mark.parametrize("name", PACKAGES)
def test_exported_names_come_from_steward(name: str) -> None:
    """Re-exports are Steward's own objects, not third-party names leaking through."""
    package = importlib.import_module(name)
    for member in package.__all__:
        value = getattr(package, member)
        if isinstance(value, type | types.FunctionType):
            assert value.__module__.startswith("mlsteward."), (member, value.__module__)


def test_the_top_level_api() -> None:
    import mlsteward as ms

    assert callable(ms.connect)
    assert issubclass(ms.NotFound, ms.StewardError)
    assert ms.__version__ == importlib.import_module("mlsteward._version").__version__
