"""Core: ids, clock, errors, configuration. Imports nothing else of Steward."""

from mlsteward.core._clock import ensure_utc, utcnow
from mlsteward.core._config import (
    SETTINGS,
    SUPPORTED_SCHEMES,
    Config,
    Setting,
    load_config,
    normalize_store_uri,
)
from mlsteward.core._errors import (
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
    require,
)
from mlsteward.core._ids import NAME_PATTERN, new_id, validate_name
from mlsteward.core._records import AuditEvent, AuditVerification, Project

__all__ = [
    "NAME_PATTERN",
    "SETTINGS",
    "SUPPORTED_SCHEMES",
    "AlreadyExists",
    "AuditEvent",
    "AuditVerification",
    "Config",
    "ConfigError",
    "Conflict",
    "GateFailed",
    "IntegrityViolation",
    "InvalidInput",
    "MissingDependency",
    "NotFound",
    "PermissionDenied",
    "Project",
    "SchemaOutdated",
    "Setting",
    "StewardError",
    "StoreUnavailable",
    "ensure_utc",
    "load_config",
    "new_id",
    "normalize_store_uri",
    "require",
    "utcnow",
    "validate_name",
]
