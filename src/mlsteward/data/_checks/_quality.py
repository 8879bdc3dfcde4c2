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

from mlsteward.data._checks._context import CheckContext, Domain, quote, result
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
    details = {"expected_from": origin, "missing": missing, "extra": extra, "types": mismatched}
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
    details = {"rates": rates, "limits": limits}
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


def _distinct_values(column: pa.ChunkedArray) -> list[Any]:
    values = pc.unique(column.drop_null()).to_pylist()
    return sorted(values, key=lambda v: (str(type(v)), v))


def reference_domain(ctx: CheckContext) -> Domain | None:
    """Ranges (numeric columns) and categories (categorical, boolean) of the reference,
    leaving out its time column (a later batch covers a later period by design)."""
    if ctx.reference is None:
        return None
    ranges: dict[str, tuple[float | None, float | None]] = {}
    categories: dict[str, list[Any]] = {}
    skip = {ctx.reference.version.time_column, ctx.version.time_column}
    for name, kind in ctx.reference.version.column_types.items():
        if name in skip:
            continue
        if kind == "numeric":
            column = ctx.reference.column(name)
            if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
                low, high = (s.as_py() for s in pc.min_max(column).values())
                ranges[name] = (low, high)
        elif kind in {"categorical", "boolean"}:
            categories[name] = _distinct_values(ctx.reference.column(name))
    return Domain(ranges, categories, f"reference {ctx.reference.version.short_ref}")


def _domain(check: DomainCheck, ctx: CheckContext) -> Domain | None:
    spec = Domain(
        {c: (r.min, r.max) for c, r in check.ranges.items()},
        {c: list(v) for c, v in check.categories.items()},
        "the spec",
    )
    has_spec = bool(spec.ranges or spec.categories)
    order = {
        "auto": [spec if has_spec else None, ctx.charter_domain, reference_domain(ctx)]
        if not has_spec
        else [spec],
        "spec": [spec if has_spec else None],
        "charter": [ctx.charter_domain],
        "reference": [reference_domain(ctx)],
    }[check.source]
    return next((d for d in order if d is not None), None)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _text_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_floating(column.type):
        whole = pc.all(pc.equal(column, pc.floor(column))).as_py()
        if whole:
            column = column.cast(pa.int64())
    return column.cast(pa.string())


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
    counts: dict[str, dict[str, Any]] = {}
    for name, (low, high) in domain.ranges.items():
        if name not in present or (selected is not None and name not in selected):
            continue
        column = ctx.data.column(name)
        if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
            continue
        below = 0 if low is None else int(pc.sum(pc.less(column, low)).as_py() or 0)
        above = 0 if high is None else int(pc.sum(pc.greater(column, high)).as_py() or 0)
        low_seen, high_seen = (s.as_py() for s in pc.min_max(column).values())
        counts[name] = {
            "out_of_domain": below + above,
            "allowed": [low, high],
            "observed": [low_seen, high_seen],
        }
    for name, allowed in domain.categories.items():
        if name not in present or (selected is not None and name not in selected):
            continue
        column = _text_column(ctx.data.column(name))
        allowed_text = pa.array(sorted({_as_text(v) for v in allowed}), pa.string())
        inside = pc.is_in(column, value_set=allowed_text)
        outside = pc.and_(pc.invert(inside), pc.is_valid(column))
        unseen = pc.unique(pc.filter(column, outside)).to_pylist()
        counts[name] = {
            "out_of_domain": int(pc.sum(outside).as_py() or 0),
            "allowed": allowed_text.to_pylist()[:50],
            "unseen": sorted(unseen)[:20],
        }
    shares = {c: v["out_of_domain"] / max(ctx.rows, 1) for c, v in counts.items()}
    bad = [c for c in counts if shares[c] > check.max_share]
    details = {"source": domain.source, "columns": counts, "shares": shares}
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


def check_duplicate_rows(check: DuplicateRowsCheck, ctx: CheckContext) -> CheckResult:
    types = ctx.version.column_types
    columns = [c for c in ctx.version.columns if not (check.ignore_id_columns and types[c] == "id")]
    if not columns:
        return result(check, "skipped", "Every column is an id column; nothing to compare.")
    selection = ", ".join(quote(c) for c in columns)
    ((distinct,),) = ctx.sql(f"SELECT count(*) FROM (SELECT DISTINCT {selection} FROM {{data}})")
    duplicates = ctx.rows - int(distinct)
    share = duplicates / max(ctx.rows, 1)
    details = {"duplicates": duplicates, "share": share, "compared_columns": len(columns)}
    if share <= check.max_share:
        return result(
            check, "pass", f"{duplicates} duplicate rows ({_pct(share)}).", details=details
        )
    return result(
        check,
        "fail",
        f"{duplicates} rows ({_pct(share)}) repeat an earlier row"
        + (" (id columns ignored)" if check.ignore_id_columns else "")
        + f"; allowed {_pct(check.max_share)}. Deduplicate, or raise max_share if repeats are real.",
        details=details,
    )


def check_duplicate_ids(check: DuplicateIdsCheck, ctx: CheckContext) -> CheckResult:
    columns = ctx.columns_of({"id"}, check.columns)
    if not columns:
        return result(
            check, "skipped", "No id columns (logical type id); name them with 'columns'."
        )
    found: dict[str, dict[str, Any]] = {}
    for name in columns:
        column = ctx.data.column(name)
        distinct = pc.count_distinct(column, mode="only_valid").as_py()
        nulls = column.null_count
        duplicated = len(column) - nulls - distinct
        examples: list[Any] = []
        if duplicated:
            counts = pc.value_counts(column.drop_null())
            repeated = pc.filter(counts, pc.greater(counts.field("counts"), 1))
            examples = repeated.field("values").to_pylist()[:5]
        found[name] = {"duplicated": int(duplicated), "nulls": int(nulls), "examples": examples}
    bad = [c for c, v in found.items() if v["duplicated"] or v["nulls"]]
    if not bad:
        return result(
            check, "pass", f"Ids unique in {', '.join(columns)}.", details={"columns": found}
        )
    parts = [
        f"{c}: {found[c]['duplicated']} repeated (e.g. {found[c]['examples'][:3]}), {found[c]['nulls']} null"
        for c in bad
    ]
    return result(
        check,
        "fail",
        "Ids are not unique: " + "; ".join(parts) + ".",
        columns=bad,
        details={"columns": found},
    )


def check_outliers(check: OutliersCheck, ctx: CheckContext) -> CheckResult:
    columns = ctx.columns_of({"numeric"}, check.columns, skip_time=True)
    found: dict[str, dict[str, Any]] = {}
    for name in columns:
        values = ctx.data.numeric(name)
        values = values[~np.isnan(values)]
        mask, rule = outlier_mask(values, check.method, check.z, check.iqr_k)
        count = int(mask.sum())
        share = count / max(values.size, 1)
        extremes = [float(values[mask].min()), float(values[mask].max())] if count else []
        found[name] = {"outliers": count, "share": share, "rule": rule, "range": extremes}
    bad = [c for c, v in found.items() if v["share"] > check.max_share]
    if not columns:
        return result(check, "skipped", "No numeric columns.")
    if not bad:
        return result(
            check,
            "pass",
            f"Outlier shares within {_pct(check.max_share)} in {len(columns)} numeric columns.",
            details={"columns": found},
        )
    parts = [
        f"{c} {found[c]['outliers']} ({_pct(found[c]['share'])}, {found[c]['rule']})" for c in bad
    ]
    return result(
        check,
        "fail",
        f"Outliers above {_pct(check.max_share)}: " + "; ".join(parts) + ".",
        columns=bad,
        details={"columns": found},
    )


def check_constant(check: ConstantCheck, ctx: CheckContext) -> CheckResult:
    columns = ctx.columns_of(_ALL - {"id"}, check.columns, skip_time=True)
    found: dict[str, dict[str, Any]] = {
        name: {"value": value} for name, value in ctx.single_valued(columns).items()
    }
    if check.max_top_share < 1.0:
        for name in columns:
            if name in found:
                continue
            column = ctx.data.column(name).drop_null().combine_chunks()
            top = int(pc.max(pc.value_counts(column).field("counts")).as_py() or 0)
            share = top / max(ctx.rows, 1)
            if share >= check.max_top_share:
                found[name] = {"top_share": share}
    if not found:
        return result(check, "pass", f"No constant columns among {len(columns)}.")
    return result(
        check,
        "fail",
        f"Constant or near-constant column(s): {', '.join(found)}; they carry no information "
        "for a model. Drop them or check the extraction.",
        columns=list(found),
        details={"columns": found},
    )
