"""The exception tree: one base, matching built-ins, one exit code and HTTP status each."""

from __future__ import annotations

import pytest

import mlsteward as ms
from mlsteward.core import require

TREE: list[tuple[type[ms.StewardError], type[Exception], int, int]] = [
    # (class, built-in it also is, exit code, HTTP status)
    (ms.StewardError, Exception, 1, 500),
    (ms.InvalidInput, ValueError, 2, 422),
    (ms.ConfigError, ValueError, 2, 422),
    (ms.NotFound, LookupError, 3, 404),
    (ms.AlreadyExists, Exception, 4, 409),
    (ms.Conflict, Exception, 5, 409),
    (ms.GateFailed, Exception, 6, 422),
    (ms.PermissionDenied, PermissionError, 7, 403),
    (ms.IntegrityViolation, Exception, 8, 500),
    (ms.SchemaOutdated, RuntimeError, 9, 503),
    (ms.StoreUnavailable, ConnectionError, 10, 503),
    (ms.MissingDependency, ImportError, 11, 501),
]


@pytest.mark.parametrize(("cls", "builtin", "code", "status"), TREE)
def test_the_tree(
    cls: type[ms.StewardError], builtin: type[Exception], code: int, status: int
) -> None:
    error = cls("what was wrong", hint="How to fix it.")
    assert (error.exit_code, error.http_status) == (code, status)
    assert str(error) == "what was wrong How to fix it."
    assert (error.message, error.hint, error.kind) == (
        "what was wrong",
        "How to fix it.",
        cls.__name__,
    )
    assert str(cls("alone")) == "alone"
    assert isinstance(error, builtin)
    assert isinstance(error, ms.StewardError)


def test_the_exit_codes_tell_the_kinds_apart() -> None:
    codes = [code for cls, _, code, _ in TREE if cls is not ms.ConfigError]
    assert len(codes) == len(set(codes))
    assert issubclass(ms.ConfigError, ms.InvalidInput)


def test_require_gives_the_install_command() -> None:
    with pytest.raises(ms.MissingDependency) as info:
        require("surely_not_installed_pkg.sub", "fancy", "Drawing fancy charts")
    assert str(info.value) == (
        "Drawing fancy charts needs surely_not_installed_pkg: pip install 'mlsteward[fancy]'"
    )
    assert isinstance(info.value.__cause__, ImportError)
