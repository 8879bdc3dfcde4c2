"""Identifiers: sortable by creation time, unique without coordination."""

from __future__ import annotations

import os
import re
import time

__all__ = ["NAME_PATTERN", "new_id", "validate_name"]

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}\Z")  # \Z: no trailing newline
_NAME_RULE = (
    "1 to 63 characters: lowercase letters, digits, '-', '_' or '.', "
    "starting with a letter or a digit"
)


def new_id() -> str:
    """A 32-character hex id: 48 bits of milliseconds then 80 random bits.

    >>> len(new_id())
    32
    """
    millis = int(time.time() * 1000) & ((1 << 48) - 1)
    return f"{millis:012x}{os.urandom(10).hex()}"


def validate_name(kind: str, name: object) -> str:
    """Check a user-chosen name (project, dataset, model, ...) and return it.

    >>> validate_name("project", "acs-employment")
    'acs-employment'
    """
    from mlsteward.core._errors import InvalidInput

    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        suggestion = ""
        if isinstance(name, str) and name:
            cleaned = re.sub(r"[^a-z0-9_.-]+", "-", name.strip().lower()).strip("-_.")[:63]
            if cleaned and NAME_PATTERN.match(cleaned):
                suggestion = f" Try {cleaned!r}."
        raise InvalidInput(
            f"Invalid {kind} name {name!r}: a {kind} name must be {_NAME_RULE}.{suggestion}"
        )
    return name
