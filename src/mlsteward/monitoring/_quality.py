"""Data quality in production: missing values, out-of-domain values, unseen categories,
type errors, per input feature and window.

The domain of a feature comes from the charter's ``scope.input_domain`` when it names the
feature (a range, or allowed categories, and whether it may be missing), else from the
model's signature (the range and categories seen in training, and whether training had
missing values). A value is *out of domain* when it is a number outside the range or a
category outside the allowed list; a category the model never saw in training is
*unseen*; a present value that is not a number where a number is expected is a *type
error*. Counting is columnar (Arrow compute on the distinct values), never per row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlsteward.monitoring._summary import category_key, numeric_values

__all__ = ["Domain", "FeatureQuality", "QualityReport", "check_quality", "domains_from"]


@dataclass(frozen=True)
class Domain:
    """What a feature may hold: a numeric range or a set of categories (as keys), and
    whether it may be missing. ``source`` is ``charter`` or ``signature``."""

    kind: Literal["numeric", "categorical"]
    source: str
    low: float | None = None
    high: float | None = None
    allowed: frozenset[str] | None = None
    seen: frozenset[str] | None = None
    missing_allowed: bool = True

    def describe(self) -> str:
        if self.kind == "numeric":
            low = "-inf" if self.low is None else f"{self.low:g}"
            high = "inf" if self.high is None else f"{self.high:g}"
            return f"[{low}, {high}] ({self.source})"
        cats = sorted(self.allowed or self.seen or ())
        shown = ", ".join(cats[:8]) + (", ..." if len(cats) > 8 else "")
        return f"{{{shown}}} ({self.source})"


def domains_from(
    features: Iterable[str],
    kinds: Mapping[str, str],
    *,
    charter: Any = None,
    signature: Any = None,
) -> dict[str, Domain]:
    """The domain of each feature from the charter's input domain, else the signature."""
    doc = getattr(charter, "charter", charter)
    charter_domain = dict(doc.scope.input_domain) if doc is not None else {}
    specs = {c.name: c for c in signature.inputs} if signature is not None else {}
    out: dict[str, Domain] = {}
    for name in features:
        kind: Literal["numeric", "categorical"] = (
            "numeric" if kinds.get(name) == "numeric" else "categorical"
        )
        spec = specs.get(name)
        seen = (
            frozenset(category_key(c) for c in spec.categories)
            if spec is not None and spec.categories is not None
            else None
        )
        item = charter_domain.get(name)
        if item is not None:
            out[name] = Domain(
                kind,
                "charter",
                low=item.min,
                high=item.max,
                allowed=None
                if item.allowed is None
                else frozenset(category_key(c) for c in item.allowed),
                seen=seen,
                missing_allowed=item.missing_allowed,
            )
        elif spec is not None:
            numeric = kind == "numeric" and spec.type == "numeric"
            out[name] = Domain(
                kind,
                "signature",
                low=float(spec.min) if numeric and spec.min is not None else None,
                high=float(spec.max) if numeric and spec.max is not None else None,
                seen=seen,
                missing_allowed=bool(spec.nullable),
            )
    return out


@dataclass(frozen=True)
class FeatureQuality:
    """Quality counts of one feature in one window (``examples``: a few offending values)."""

    feature: str
    rows: int
    missing: int
    missing_allowed: bool
    out_of_domain: int
    unseen: int
    type_errors: int
    domain: str
    examples: tuple[str, ...] = ()

    def share(self, count: int) -> float:
        return count / self.rows if self.rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "rows": self.rows,
            "missing": self.missing,
            "missing_rate": self.share(self.missing),
            "missing_allowed": self.missing_allowed,
            "out_of_domain": self.out_of_domain,
            "out_of_domain_share": self.share(self.out_of_domain),
            "unseen": self.unseen,
            "unseen_share": self.share(self.unseen),
            "type_errors": self.type_errors,
            "type_error_share": self.share(self.type_errors),
            "domain": self.domain,
            "examples": list(self.examples),
        }


@dataclass(frozen=True)
class QualityReport:
    features: tuple[FeatureQuality, ...]

    def feature(self, name: str) -> FeatureQuality:
        for item in self.features:
            if item.feature == name:
                return item
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"features": [f.to_dict() for f in self.features]}


def _numeric_quality(name: str, values: Any, domain: Domain | None) -> FeatureQuality:
    numbers, type_errors = numeric_values(values)
    present = ~np.isnan(numbers)
    rows = numbers.size
    missing = int(rows - np.count_nonzero(present) - type_errors)
    bad = np.zeros(rows, dtype=bool)
    if domain is not None:
        if domain.low is not None:
            bad |= present & (numbers < domain.low)
        if domain.high is not None:
            bad |= present & (numbers > domain.high)
    offending = np.unique(numbers[bad])[:5] if bad.any() else np.zeros(0)
    return FeatureQuality(
        name,
        rows,
        missing,
        True if domain is None else domain.missing_allowed,
        int(np.count_nonzero(bad)),
        0,
        type_errors,
        "" if domain is None else domain.describe(),
        tuple(f"{v:g}" for v in offending.tolist()),
    )


def _categorical_quality(name: str, values: Any, domain: Domain | None) -> FeatureQuality:
    array = values if isinstance(values, pa.ChunkedArray | pa.Array) else pa.array(values)
    if pa.types.is_floating(array.type):
        array = pc.if_else(pc.is_nan(array), None, array)
    rows = len(array)
    missing = int(array.null_count)
    counted = pc.value_counts(array)
    distinct = counted.field("values")
    if pa.types.is_dictionary(distinct.type):
        distinct = pc.cast(distinct, distinct.type.value_type)
    out_of_domain = unseen = 0
    examples: list[str] = []
    for value, n in zip(distinct.to_pylist(), counted.field("counts").to_pylist(), strict=True):
        if value is None:
            continue
        key = category_key(value)
        if domain is not None and domain.allowed is not None and key not in domain.allowed:
            out_of_domain += int(n)
            examples.append(key)
        if domain is not None and domain.seen is not None and key not in domain.seen:
            unseen += int(n)
            if domain.allowed is None:
                examples.append(key)
    return FeatureQuality(
        name,
        rows,
        missing,
        True if domain is None else domain.missing_allowed,
        out_of_domain,
        unseen,
        0,
        "" if domain is None else domain.describe(),
        tuple(sorted(set(examples))[:5]),
    )


def check_quality(
    items: Mapping[str, Any], kinds: Mapping[str, str], domains: Mapping[str, Domain]
) -> QualityReport:
    """Quality of each feature of a window (``items``: column values by name)."""
    results = []
    for name, values in items.items():
        domain = domains.get(name)
        if kinds.get(name) == "numeric":
            results.append(_numeric_quality(name, values, domain))
        else:
            results.append(_categorical_quality(name, values, domain))
    return QualityReport(tuple(results))


def nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else value
