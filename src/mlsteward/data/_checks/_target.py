"""Checks that look at the target: leakage, label balance, relevance.

Rows without a label are left out. On more than :data:`TARGET_SAMPLE_ROWS` labelled rows a
seeded random sample of that size is used (the same rows on every run). The sample is
drawn in one streaming pass over the file (only the target and feature columns), never by
loading whole columns, and is shared by the checks of one run. Label balance reads the
class counts from the stored profile.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlsteward.data._checks._context import CheckContext, result
from mlsteward.data._checks._quality import profile_counts
from mlsteward.data._checks._spec import LabelBalanceCheck, LeakageCheck, RelevanceCheck
from mlsteward.data._checks._stats import (
    auc,
    crossfit_target_rate,
    mutual_information,
    quantile_codes,
    spearman,
)
from mlsteward.data._records import CheckResult

__all__ = [
    "TARGET_SAMPLE_ROWS",
    "arrow_codes",
    "check_label_balance",
    "check_leakage",
    "check_relevance",
]

TARGET_SAMPLE_ROWS: Final = 200_000


def arrow_codes(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Integer codes of the distinct values of any column (nulls: one extra code)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    encoded = pc.dictionary_encode(array)
    size = len(encoded.dictionary)
    out: np.ndarray = (
        encoded.indices.fill_null(size).to_numpy(zero_copy_only=False).astype(np.int64)
    )
    return out


class _Labelled:
    """The labelled rows (sampled when many): target values and feature accessors."""

    def __init__(self, ctx: CheckContext, target: str, features: list[str]) -> None:
        self.ctx = ctx
        key = ("labelled", target, tuple(features))
        if key not in ctx.cache:
            ctx.cache[key] = ctx.data.labelled_sample(target, features, TARGET_SAMPLE_ROWS)
        self.table: pa.Table = ctx.cache[key]
        self.rows = np.arange(self.table.num_rows)
        self.kind = ctx.target_kind(target)
        self.values = self.table.column(target).combine_chunks()
        if self.kind == "numeric":
            self.y = self.values.cast(pa.float64()).to_numpy(zero_copy_only=False)
            self.classes: list[Any] = []
        else:
            codes = arrow_codes(self.values)
            order = self.values.dictionary_encode().dictionary.to_pylist()
            ranking = np.argsort(np.array([str(v) for v in order], dtype=object), kind="stable")
            # class codes in sorted order of the class values (positive = the larger value)
            remap = np.empty(len(order), dtype=np.int64)
            remap[ranking] = np.arange(len(order))
            self.y = remap[codes]
            self.classes = [order[i] for i in ranking]

    def feature(self, name: str) -> pa.Array:
        return self.table.column(name).combine_chunks()

    def is_numeric(self, name: str, array: pa.Array) -> bool:
        kind = self.ctx.version.column_types.get(name)
        physical = pa.types.is_integer(array.type) or pa.types.is_floating(array.type)
        return kind == "numeric" and physical

    def codes(self, name: str, bins: int = 10) -> np.ndarray:
        array = self.feature(name)
        if self.is_numeric(name, array):
            return quantile_codes(array.cast(pa.float64()).to_numpy(zero_copy_only=False), bins)
        return arrow_codes(array)

    def target_codes(self, bins: int) -> np.ndarray:
        if self.kind == "numeric":
            return quantile_codes(self.y, bins)
        codes: np.ndarray = self.y
        return codes


def _score(data: _Labelled, name: str) -> dict[str, Any]:
    """How well one feature alone predicts the target (AUC, or |Spearman| for numeric)."""
    array = data.feature(name)
    numeric = data.is_numeric(name, array)
    raw = array.cast(pa.float64()).to_numpy(zero_copy_only=False) if numeric else None
    codes = data.codes(name, bins=20)
    if data.kind == "numeric":
        encoded = crossfit_target_rate(codes, data.y)
        scores = [abs(spearman(encoded, data.y))]
        if raw is not None:
            keep = ~np.isnan(raw)
            scores.append(abs(spearman(raw[keep], data.y[keep])) if keep.sum() > 2 else 0.0)
        return {"abs_spearman": max(scores)}
    per_class = []
    positives = [len(data.classes) - 1] if data.kind == "binary" else range(len(data.classes))
    for positive in positives:  # one pass per class, not per row
        y = (data.y == positive).astype(np.float64)
        candidates = [auc(crossfit_target_rate(codes, y), y)]
        if raw is not None:
            keep = ~np.isnan(raw)
            a = auc(raw[keep], y[keep])
            candidates.append(max(a, 1 - a))
        per_class.append(max(c for c in candidates if not np.isnan(c)) if candidates else 0.5)
    return {"auc": float(np.mean(per_class))}


def check_leakage(check: LeakageCheck, ctx: CheckContext) -> CheckResult:
    target = ctx.target(check.target)
    if target is None:
        return result(
            check, "skipped", "No target: register the version with a target or set 'target'."
        )
    features = ctx.features(target, check.columns)
    data = _Labelled(ctx, target, features)
    if data.rows.size < 10 or (data.kind != "numeric" and len(data.classes) < 2):
        return result(
            check, "skipped", f"Too few labelled rows or classes in {target!r} to measure leakage."
        )
    scores = {name: _score(data, name) for name in features}
    if data.kind == "numeric":
        limit, key = check.max_abs_correlation, "abs_spearman"
    else:
        limit, key = check.max_auc, "auc"
    bad = [name for name, s in scores.items() if s[key] > limit]
    details = {
        "target": target,
        "target_kind": data.kind,
        "metric": key,
        "limit": limit,
        "scores": scores,
        "measured": {name: s[key] for name, s in scores.items()},
        "threshold": limit,
    }
    if not bad:
        best = max(scores.items(), key=lambda item: item[1][key], default=(None, {key: 0.0}))
        return result(
            check,
            "pass",
            f"No feature predicts {target!r} alone beyond {key} {limit} (highest: {best[0]} "
            f"{best[1][key]:.3f}).",
            details=details,
        )
    listing = ", ".join(f"{name} ({key} {scores[name][key]:.3f})" for name in bad)
    return result(
        check,
        "fail",
        f"Possible target leakage: {listing} predict(s) {target!r} almost perfectly on their "
        f"own (limit {key} {limit}). A feature known only after the outcome must be dropped.",
        columns=bad,
        details=details,
    )


def _class_counts(ctx: CheckContext, target: str) -> tuple[list[str], np.ndarray]:
    """The classes of the target (as text, sorted) and their counts: from the profile's
    exact counts, else counted in the data."""
    known = profile_counts(ctx.data.summary(target), ctx.data.arrow_type(target))
    if known is not None:
        classes, counts = known[0].to_pylist(), np.asarray(known[1], dtype=np.int64)
    else:
        pairs = pc.value_counts(ctx.data.column(target).drop_null().combine_chunks())
        classes = pairs.field("values").to_pylist()
        counts = np.asarray(pairs.field("counts").to_numpy(), dtype=np.int64)
    text = [str(v) for v in classes]
    order = sorted(range(len(text)), key=text.__getitem__)
    return [text[i] for i in order], counts[order]


def check_label_balance(check: LabelBalanceCheck, ctx: CheckContext) -> CheckResult:
    target = ctx.target(check.target)
    if target is None:
        return result(
            check, "skipped", "No target: register the version with a target or set 'target'."
        )
    if ctx.target_kind(target) == "numeric":
        return result(
            check, "skipped", f"Target {target!r} is numeric; label balance applies to classes."
        )
    values, n = _class_counts(ctx, target)
    total = int(n.sum())
    shares = {v: int(c) / max(total, 1) for v, c in zip(values, n, strict=True)}
    details = {
        "target": target,
        "counts": dict(zip(values, n.tolist(), strict=True)),
        "shares": shares,
        "measured": shares,
        "threshold": check.min_share,
    }
    if len(values) < 2:
        return result(
            check,
            "fail",
            f"Target {target!r} has a single class {values}; a classifier needs at least two.",
            columns=[target],
            details=details,
        )
    low = {v: s for v, s in shares.items() if s < check.min_share}
    listing = ", ".join(f"{v}: {100 * s:.1f}%" for v, s in sorted(shares.items()))
    if not low:
        return result(check, "pass", f"Classes of {target!r}: {listing}.", details=details)
    return result(
        check,
        "fail",
        f"Class(es) {', '.join(low)} of {target!r} below {100 * check.min_share:.1f}% ({listing}). "
        "Collect more of them, or plan class weights and suitable metrics.",
        columns=[target],
        details=details,
    )


def check_relevance(check: RelevanceCheck, ctx: CheckContext) -> CheckResult:
    target = ctx.target(check.target)
    if target is None:
        return result(
            check, "skipped", "No target: register the version with a target or set 'target'."
        )
    features = ctx.features(target, check.columns)
    data = _Labelled(ctx, target, features)
    y = data.target_codes(check.bins)
    scores: dict[str, dict[str, float]] = {}
    for name in features:
        x = data.codes(name, check.bins)
        scores[name] = {
            "mutual_info": mutual_information(x, y, corrected=True),
            "mutual_info_raw": mutual_information(x, y),
        }
    bad = [n for n, s in scores.items() if s["mutual_info"] < check.min_mutual_info]
    details = {
        "target": target,
        "min_mutual_info": check.min_mutual_info,
        "scores": scores,
        "measured": {name: s["mutual_info"] for name, s in scores.items()},
        "threshold": check.min_mutual_info,
    }
    if not features:
        return result(check, "skipped", "No feature columns to score.")
    if not bad:
        return result(
            check,
            "pass",
            f"All {len(features)} features carry information about {target!r}.",
            details=details,
        )
    return result(
        check,
        "fail",
        f"Feature(s) {', '.join(bad)} carry no information about {target!r} (bias-corrected "
        f"mutual information below {check.min_mutual_info} nats). Consider dropping them.",
        columns=bad,
        details=details,
    )
