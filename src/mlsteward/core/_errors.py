"""The one exception tree of Steward.

Every error that Steward raises on purpose is a :class:`StewardError`. Each class also
subclasses the matching built-in, so callers that only know Python can still catch it,
and each maps to exactly one CLI exit code and one HTTP status::

    StewardError (Exception)                      exit 1   HTTP 500
    ├── InvalidInput (ValueError)                 exit 2   HTTP 422
    │   └── ConfigError                           exit 2   HTTP 422
    ├── NotFound (LookupError)                    exit 3   HTTP 404
    ├── AlreadyExists                             exit 4   HTTP 409
    ├── Conflict                                  exit 5   HTTP 409
    ├── GateFailed                                exit 6   HTTP 422
    ├── PermissionDenied (PermissionError)        exit 7   HTTP 403
    ├── IntegrityViolation                        exit 8   HTTP 500
    ├── SchemaOutdated (RuntimeError)             exit 9   HTTP 503
    ├── StoreUnavailable (ConnectionError)        exit 10  HTTP 503
    └── MissingDependency (ImportError)           exit 11  HTTP 501

A message says what was wrong, what was expected and how to fix it, naming the object.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AlreadyExists",
    "ConfigError",
    "Conflict",
    "GateFailed",
    "IntegrityViolation",
    "InvalidInput",
    "MissingDependency",
    "NotFound",
    "PermissionDenied",
    "SchemaOutdated",
    "StewardError",
    "StoreUnavailable",
    "require",
]


class StewardError(Exception):
    """Base of every error Steward raises on purpose."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} {hint}")

    @property
    def kind(self) -> str:
        """The class name, as it crosses the REST boundary."""
        return type(self).__name__


class InvalidInput(StewardError, ValueError):
    """Input that does not satisfy what an entry point expects."""

    exit_code = 2
    http_status = 422


class ConfigError(InvalidInput):
    """A setting (environment variable, steward.toml, option) has a bad value."""


class NotFound(StewardError, LookupError):
    """A named object does not exist."""

    exit_code = 3
    http_status = 404


class AlreadyExists(StewardError):
    """An object with the same identity already exists."""

    exit_code = 4
    http_status = 409


class Conflict(StewardError):
    """The operation conflicts with the current state of an object."""

    exit_code = 5
    http_status = 409


class GateFailed(StewardError):
    """A required gate of a charter failed."""

    exit_code = 6
    http_status = 422


class PermissionDenied(StewardError, PermissionError):
    """The actor may not do this, or an artifact is not trusted."""

    exit_code = 7
    http_status = 403


class IntegrityViolation(StewardError):
    """Stored content does not match its recorded hash (tampering or corruption)."""

    exit_code = 8
    http_status = 500


class SchemaOutdated(StewardError, RuntimeError):
    """The metadata database is at another schema revision than this Steward."""

    exit_code = 9
    http_status = 503


class StoreUnavailable(StewardError, ConnectionError):
    """The metadata or artifact store cannot be reached."""

    exit_code = 10
    http_status = 503


class MissingDependency(StewardError, ImportError):
    """An optional dependency is needed; the message gives the install command."""

    exit_code = 11
    http_status = 501


def require(module: str, extra: str, purpose: str) -> object:
    """Import an optional dependency or fail with the install command.

    >>> require("json", "core", "reading JSON").__name__
    'json'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(
            f"{purpose} needs {module.split('.')[0]}: pip install 'mlsteward[{extra}]'"
        ) from exc
