"""Checks of what runs log: keys, param and tag values, metric values and steps, paths.

Rules (also in docs/tracking.md):
- keys of params, metrics and tags: 1 to 250 characters among letters, digits, ``_ - . / :``
  and inner spaces;
- param values: any value, stored as ``str(value)``, at most 500 characters, immutable;
- tag values: ``str(value)``, at most 5,000 characters, replaceable;
- metric values: real numbers (``int``, ``float``, NumPy scalars); NaN and infinities are
  accepted and kept (NaN never matches a search filter); text, None and booleans are refused;
- steps: integers in the signed 64-bit range.
"""

from __future__ import annotations

import numbers
import re
from typing import Any

from mlsteward.core import InvalidInput

__all__ = [
    "MAX_KEY",
    "MAX_PARAM_VALUE",
    "MAX_TAG_VALUE",
    "check_artifact_path",
    "check_key",
    "check_metric_value",
    "check_param_value",
    "check_step",
    "check_tag_value",
]

MAX_KEY = 250
MAX_PARAM_VALUE = 500
MAX_TAG_VALUE = 5000
MAX_ARTIFACT_PATH = 500
_KEY = re.compile(r"^[A-Za-z0-9_.\-/:]([A-Za-z0-9_.\-/: ]*[A-Za-z0-9_.\-/:])?$")
_INT64 = 2**63


def check_key(kind: str, key: object) -> str:
    """Return ``key`` if it is a valid key of a param, metric or tag."""
    if not isinstance(key, str) or len(key) > MAX_KEY or not _KEY.match(key):
        shown = key if not isinstance(key, str) or len(key) <= 60 else key[:57] + "..."
        raise InvalidInput(
            f"Invalid {kind} key {shown!r}: a key must be 1 to {MAX_KEY} characters among "
            "letters, digits, '_', '-', '.', '/', ':' and inner spaces, e.g. 'val/roc_auc'."
        )
    return key


def check_param_value(key: str, value: object) -> str:
    """The stored text of a param value."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM_VALUE:
        raise InvalidInput(
            f"Param {key!r} has a value of {len(text)} characters; the limit is "
            f"{MAX_PARAM_VALUE}. Log long values as a tag (up to {MAX_TAG_VALUE} characters) "
            "or as an artifact (run.log_dict / run.log_text)."
        )
    return text


def check_tag_value(key: str, value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TAG_VALUE:
        raise InvalidInput(
            f"Tag {key!r} has a value of {len(text)} characters; the limit is "
            f"{MAX_TAG_VALUE}. Log long text as an artifact with run.log_text(text, name)."
        )
    return text


def check_metric_value(key: str, value: Any) -> float:
    """The float of a metric value; NaN and infinities pass, non-numbers are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        kind = type(value).__name__
        hint = ""
        if isinstance(value, str):
            hint = " Convert it first, e.g. float(value), or log text as a tag."
        elif isinstance(value, bool):
            hint = " Log it as int(value) if you mean 0/1, or as a tag."
        elif hasattr(value, "item") and getattr(value, "size", 2) == 1:
            hint = " It looks like a one-element array: pass value.item()."
        raise InvalidInput(
            f"Metric {key!r} must be a real number (int, float or a NumPy scalar); "
            f"got {kind} {value!r:.80}.{hint}"
        )
    return float(value)


def check_step(key: str, step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidInput(
            f"The step of metric {key!r} must be an integer; got {type(step).__name__} "
            f"{step!r:.40}. Steps count iterations (epoch, batch, boosting round)."
        )
    number = int(step)
    if not -_INT64 <= number < _INT64:
        raise InvalidInput(f"The step {number} of metric {key!r} is outside the 64-bit range.")
    return number


def check_artifact_path(path: object) -> str:
    """A run's artifact path: relative, '/'-separated, no empty, '.' or '..' parts."""
    if not isinstance(path, str) or not path or len(path) > MAX_ARTIFACT_PATH:
        raise InvalidInput(
            f"Invalid artifact path {path!r}: expected 1 to {MAX_ARTIFACT_PATH} characters, "
            "a relative path such as 'plots/roc.png'."
        )
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or any(p in {"", ".", ".."} for p in parts):
        raise InvalidInput(
            f"Invalid artifact path {path!r}: expected a relative '/'-separated path without "
            "empty, '.' or '..' parts and without backslashes, e.g. 'plots/roc.png'."
        )
    if any(ord(ch) < 32 for ch in path):
        raise InvalidInput(f"Invalid artifact path {path!r}: control characters are not allowed.")
    return path
