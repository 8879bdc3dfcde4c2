"""Quality checks: schema, missing values, domain, constant columns.

Missing values, ranges, categories and constant columns are read from the stored profile
(exact counts, min and max, category counts); the data file is read only for what the
profile cannot settle (a value beyond a range, a column with too many categories).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlsteward.data._checks._context import CheckContext, Domain, result
from mlsteward.data._checks._spec import ConstantCheck, DomainCheck, MissingCheck, SchemaCheck
from mlsteward.data._column_profile import ColumnProfile
from mlsteward.data._records import CheckResult

__all__ = [
    "as_text",
    "check_constant",
    "check_domain",
    "check_missing",
    "check_schema",
    "profile_counts",
    "reference_domain",
    "text_column",
]

_ALL = {"numeric", "categorical", "boolean", "datetime", "text", "id"}
_EXACT_FLOAT_INTS: Final = 2**53


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def profile_counts(summary: ColumnProfile, kind: pa.DataType) -> tuple[pa.Array, Any] | None:
    """Every distinct present value of a column (in its own Arrow type) with its count,
    when the profile holds them exactly; else None (the caller reads the data).

    Categorical columns while their category counts are exact; numeric ones while the
    profile keeps exact value counts (integers only up to 2**53, which float64 holds
    exactly). Types whose profile values are not the column's own (float32, decimal,
    temporal) are left to the data.
    """
    plain = (
        pa.types.is_integer(kind)
        or kind == pa.float64()
        or pa.types.is_boolean(kind)
        or pa.types.is_string(kind)
    )
    if not plain:
        return None
    if summary.count == 0:
        return pa.array([], kind), np.zeros(0, np.int64)
    if summary.categories is not None and summary.categories.exact:
        return summary.categories.values.cast(kind), summary.categories.counts
    exact = summary.exact_values
    if exact is None or pa.types.is_boolean(kind) or pa.types.is_string(kind):
        return None
    values, counts = exact.representatives(), exact.counts
    if pa.types.is_integer(kind):
        if max(abs(summary.low), abs(summary.high)) > _EXACT_FLOAT_INTS:
            return None
        return pa.array(values.astype(np.int64)).cast(kind), counts
    return pa.array(values, pa.float64()), counts


def check_schema(check: SchemaCheck, ctx: CheckContext) -> CheckResult:
    if check.expected is not None:
        expected, origin = dict(check.expected), "the spec"
    elif ctx.reference is not None:
        expected, origin = ctx.reference.version.column_types, ctx.reference.version.short_ref
    else:
        return result(
            check, "skipped", "No expected schema: give 'expected' in the spec or a reference."
        )
    actual = ctx.version.column_types
    missing = [c for c in expected if c not in actual]
    extra = [c for c in actual if c not in expected] if not check.allow_extra else []
    mismatched = {
        c: {"expected": expected[c], "actual": actual[c]}
        for c in expected
        if c in actual and check.check_types and expected[c] != actual[c]
    }
    details = {
        "expected_from": origin,
        "missing": missing,
        "extra": extra,
        "types": mismatched,
        "measured": len(missing) + len(extra) + len(mismatched),
        "threshold": 0,
    }
    if not (missing or extra or mismatched):
        return result(
            check, "pass", f"Schema matches {origin} ({len(expected)} columns).", details=details
        )
    parts = []
    if missing:
        parts.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        parts.append(f"unexpected column(s) {', '.join(extra)}")
    if mismatched:
        parts.append(
            "type changes "
            + ", ".join(f"{c}: {v['expected']} -> {v['actual']}" for c, v in mismatched.items())
        )
    return result(
        check,
        "fail",
        f"Schema differs from {origin}: " + "; ".join(parts) + ".",
        columns=[*missing, *extra, *mismatched],
        details=details,
    )


def check_missing(check: MissingCheck, ctx: CheckContext) -> CheckResult:
    columns = ctx.columns_of(_ALL, check.columns)
    ctx.require_columns(list(check.per_column), "per_column")
    rates = ctx.missing_rates(columns)
    limits = {c: check.per_column.get(c, check.max_rate) for c in columns}
    bad = [c for c in columns if rates[c] > limits[c]]
    uniform = len(set(limits.values())) <= 1
    details = {
        "rates": rates,
        "limits": limits,
        "measured": rates,
        "threshold": check.max_rate if uniform else limits,
    }
    if not bad:
        worst = max(rates.values(), default=0.0)
        return result(
            check,
            "pass",
            f"Missing-value rates at most {_pct(worst)} (limit {_pct(check.max_rate)}).",
            details=details,
        )
    listing = ", ".join(f"{c} {_pct(rates[c])} > {_pct(limits[c])}" for c in bad)
    return result(
        check, "fail", f"Too many missing values: {listing}.", columns=bad, details=details
    )


def _sorted_values(values: list[Any]) -> list[Any]:
    return sorted(values, key=lambda v: (str(type(v)), v))


def _is_number(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))


def reference_domain(ctx: CheckContext) -> Domain | None:
    """Ranges (numeric columns) and categories (categorical, boolean) of the reference,
    leaving out its time column (a later batch covers a later period by design). Read from
    the reference's profile (exact min, max and category counts), or its data when the
    profile keeps too many categories to list them all."""
    if ctx.reference is None:
        return None
    ref = ctx.reference
    ranges: dict[str, tuple[float | None, float | None]] = {}
    categories: dict[str, list[Any]] = {}
    skip = {ref.version.time_column, ctx.version.time_column}
    for name, kind in ref.version.column_types.items():
        if name in skip:
            continue
        if kind == "numeric" and _is_number(ref.arrow_type(name)):
            summary = ref.summary(name)
            ranges[name] = (summary.low, summary.high)
        elif kind in {"categorical", "boolean"}:
            known = profile_counts(ref.summary(name), ref.arrow_type(name))
            if known is not None:
                categories[name] = _sorted_values(known[0].to_pylist())
            else:
                column = ref.column(name).drop_null()
                categories[name] = _sorted_values(pc.unique(column).to_pylist())
    return Domain(ranges, categories, f"reference {ref.version.short_ref}")


def _domain(check: DomainCheck, ctx: CheckContext) -> Domain | None:
    spec = Domain(
        {c: (r.min, r.max) for c, r in check.ranges.items()},
        {c: list(v) for c, v in check.categories.items()},
        "the spec",
    )
    has_spec = bool(spec.ranges or spec.categories)
    if check.source == "spec" or (check.source == "auto" and has_spec):
        return spec if has_spec else None
    if check.source == "charter":
        return ctx.charter_domain
    if check.source == "reference":
        return reference_domain(ctx)
    return ctx.charter_domain or reference_domain(ctx)


def as_text(value: Any) -> str:
    """A category value as text: ``true``/``false``, whole floats without ``.0``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def text_column(column: Any) -> Any:
    """Values as text, as :func:`as_text` writes them (a float column of whole numbers as
    integers)."""
    if pa.types.is_floating(column.type):
        whole = pc.all(pc.equal(column, pc.floor(column))).as_py()
        if whole:
            column = column.cast(pa.int64())
    return column.cast(pa.string())


def _range_counts(
    ctx: CheckContext, name: str, low: float | None, high: float | None
) -> dict[str, Any]:
    """Values of a numeric column below ``low`` or above ``high``. The profile's exact min
    and max settle the common case (nothing outside); otherwise the column is streamed."""
    summary = ctx.data.summary(name)
    outside = 0
    beyond_low = low is not None and summary.low is not None and summary.low < low
    beyond_high = high is not None and summary.high is not None and summary.high > high
    if beyond_low or beyond_high:
        for batch in ctx.data.batches([name]):
            column = batch.column(0)
            if beyond_low:
                outside += int(pc.sum(pc.less(column, low)).as_py() or 0)
            if beyond_high:
                outside += int(pc.sum(pc.greater(column, high)).as_py() or 0)
    return {
        "out_of_domain": outside,
        "allowed": [low, high],
        "observed": [summary.low, summary.high],
    }


def _category_counts(ctx: CheckContext, name: str, allowed: list[Any]) -> dict[str, Any]:
    """Values of a column outside the allowed categories (compared as text), from the
    profile's exact value counts, else from the column."""
    allowed_text = pa.array(sorted({as_text(v) for v in allowed}), pa.string())
    known = profile_counts(ctx.data.summary(name), ctx.data.arrow_type(name))
    if known is not None:
        values, counts = known
        texts = text_column(values)
        outside = pc.invert(pc.is_in(texts, value_set=allowed_text)).to_numpy(zero_copy_only=False)
        count = int(np.asarray(counts)[outside].sum())
        unseen = pc.filter(texts, pa.array(outside)).to_pylist()
    else:
        column = text_column(ctx.data.column(name))
        inside = pc.is_in(column, value_set=allowed_text)
        mask = pc.and_(pc.invert(inside), pc.is_valid(column))
        count = int(pc.sum(mask).as_py() or 0)
        unseen = pc.unique(pc.filter(column, mask)).to_pylist()
    return {
        "out_of_domain": count,
        "allowed": allowed_text.to_pylist()[:50],
        "unseen": sorted(set(unseen))[:20],
    }


def check_domain(check: DomainCheck, ctx: CheckContext) -> CheckResult:
    domain = _domain(check, ctx)
    if domain is None:
        return result(
            check,
            "skipped",
            "No input domain: give ranges/categories in the spec, apply a charter with "
            "scope.input_domain, or pass a reference version.",
        )
    selected = set(check.columns) if check.columns is not None else None
    if check.columns is not None:
        ctx.require_columns(check.columns, "columns")
    present = set(ctx.version.columns)

    def wanted(name: str) -> bool:
        return name in present and (selected is None or name in selected)

    counts: dict[str, dict[str, Any]] = {}
    for name, (low, high) in domain.ranges.items():
        if wanted(name) and _is_number(ctx.data.arrow_type(name)):
            counts[name] = _range_counts(ctx, name, low, high)
    for name, allowed in domain.categories.items():
        if wanted(name):
            counts[name] = _category_counts(ctx, name, allowed)
    shares = {c: v["out_of_domain"] / max(ctx.rows, 1) for c, v in counts.items()}
    bad = [c for c in counts if shares[c] > check.max_share]
    details = {
        "source": domain.source,
        "columns": counts,
        "shares": shares,
        "measured": shares,
        "threshold": check.max_share,
    }
    if not counts:
        return result(
            check,
            "skipped",
            f"The domain from {domain.source} names none of the columns.",
            details=details,
        )
    if not bad:
        return result(
            check,
            "pass",
            f"{len(counts)} columns within the domain from {domain.source}.",
            details=details,
        )
    parts = []
    for c in bad:
        info = counts[c]
        what = (
            f"unseen {info['unseen'][:5]}"
            if "unseen" in info
            else f"observed {info['observed']} vs allowed {info['allowed']}"
        )
        parts.append(f"{c}: {info['out_of_domain']} values ({_pct(shares[c])}) outside, {what}")
    return result(
        check,
        "fail",
        f"Values outside the domain from {domain.source} (allowed share {_pct(check.max_share)}): "
        + "; ".join(parts)
        + ".",
        columns=bad,
        details=details,
    )


def _top_count(ctx: CheckContext, name: str) -> int:
    """How often the most frequent value of a column occurs (profile, else the data)."""
    known = profile_counts(ctx.data.summary(name), ctx.data.arrow_type(name))
    if known is not None:
        counts = np.asarray(known[1])
        return int(counts.max()) if len(counts) else 0
    column = ctx.data.column(name).drop_null().combine_chunks()
    return int(pc.max(pc.value_counts(column).field("counts")).as_py() or 0)


def check_constant(check: ConstantCheck, ctx: CheckContext) -> CheckResult:
    columns = ctx.columns_of(_ALL - {"id"}, check.columns, skip_time=True)
    found: dict[str, dict[str, Any]] = {
        name: {"value": value} for name, value in ctx.single_valued(columns).items()
    }
    if check.max_top_share < 1.0:
        for name in columns:
            if name in found:
                continue
            share = _top_count(ctx, name) / max(ctx.rows, 1)
            if share >= check.max_top_share:
                found[name] = {"top_share": share}
    details = {
        "columns": found,
        "measured": {c: v.get("top_share", 1.0) for c, v in found.items()},
        "threshold": check.max_top_share,
    }
    if not found:
        return result(check, "pass", f"No constant columns among {len(columns)}.", details=details)
    return result(
        check,
        "fail",
        f"Constant or near-constant column(s): {', '.join(found)}; they carry no information "
        "for a model. Drop them or check the extraction.",
        columns=list(found),
        details=details,
    )
