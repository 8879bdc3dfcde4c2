"""Steward: the whole machine-learning model lifecycle in one system, with one history.

>>> import mlsteward as ms
>>> ms.__version__ >= "0.1"
True
"""

from mlsteward._version import __version__
from mlsteward.charter import Charter
from mlsteward.client import Client, connect
from mlsteward.core import (
    AlreadyExists,
    ConfigError,
    Conflict,
    GateFailed,
    IntegrityViolation,
    InvalidInput,
    MissingDependency,
    NotFound,
    PermissionDenied,
    SchemaOutdated,
    StewardError,
    StoreUnavailable,
)

__all__ = [
    "AlreadyExists",
    "Charter",
    "Client",
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
    "__version__",
    "connect",
]
