"""Time: every timestamp Steward records is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["ensure_utc", "utcnow"]


def utcnow() -> datetime:
    """The current time, UTC, microsecond precision."""
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (naive values are taken as UTC).

    >>> ensure_utc(datetime(2020, 1, 1)).isoformat()
    '2020-01-01T00:00:00+00:00'
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
