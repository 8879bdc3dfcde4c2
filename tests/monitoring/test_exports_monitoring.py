"""``mlsteward.monitoring`` exports exactly its ``__all__``, all of them Steward's own."""

from __future__ import annotations

import types

import mlsteward.monitoring as monitoring


def test_all_lists_exactly_the_public_names() -> None:
    exported = monitoring.__all__
    assert len(exported) == len(set(exported))
    for member in exported:
        assert hasattr(monitoring, member), member
    public = {
        name
        for name, value in vars(monitoring).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(exported)
    for member in exported:
        value = getattr(monitoring, member)
        if isinstance(value, type | types.FunctionType):
            assert value.__module__.startswith("mlsteward.monitoring."), member


def test_the_sdk_reaches_monitoring(sqlite_client: object) -> None:
    st = sqlite_client
    assert isinstance(st.monitoring, monitoring.Monitoring)  # type: ignore[attr-defined]
    assert callable(st.monitor) and callable(st.drift)  # type: ignore[attr-defined]
