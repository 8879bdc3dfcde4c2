"""Collection checks: freshness of the data and coverage of subpopulations."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from mlsteward.core import InvalidInput, ensure_utc
from mlsteward.data._checks._context import CheckContext, _Data, result
from mlsteward.data._checks._quality import as_text, text_column
from mlsteward.data._checks._spec import CoverageCheck, FreshnessCheck
from mlsteward.data._records import CheckResult

__all__ = ["MAX_GROUPS", "check_coverage", "check_freshness", "group_counts"]

MAX_GROUPS: Final = 10_000
_SEP: Final = "|"


def _newest(column: pa.ChunkedArray) -> tuple[datetime | None, str]:
    """The newest moment in a time column, and how its values were read."""
    if pa.types.is_timestamp(column.type):
        value = pc.max(column).as_py()
        return (None if value is None else ensure_utc(value)), "timestamps (naive = UTC)"
    if pa.types.is_date(column.type):
        value = pc.max(column).as_py()
        if value is None:
            return None, "dates"
        return datetime(
            value.year, value.month, value.day, 23, 59, 59, tzinfo=UTC
        ), "dates (end of day)"
    if pa.types.is_integer(column.type):
        low, high = (s.as_py() for s in pc.min_max(column).values())
        if low is not None and low >= 1000 and high <= 3000:
            return datetime(high, 12, 31, 23, 59, 59, tzinfo=UTC), "years (end of year)"
    if pa.types.is_string(column.type):
        try:
            parsed = pc.cast(column, pa.timestamp("us"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None, "unreadable"
        return _newest(parsed)
    return None, "unreadable"


def check_freshness(check: FreshnessCheck, ctx: CheckContext) -> CheckResult:
    column_name = check.time_column or ctx.version.time_column
    if column_name is None:
        return result(
            check, "skipped", "No time column: register the version with one or set 'time_column'."
        )
    ctx.require_columns([column_name], "time_column")
    newest, reading = _newest(ctx.data.column(column_name))
    if reading == "unreadable":
        raise InvalidInput(
            f"The time column {column_name!r} of {ctx.version.short_ref} holds neither "
            "timestamps, dates, ISO 8601 text nor years; expected one of those for the "
            "freshness check."
        )
    as_of = ensure_utc(check.as_of) if check.as_of is not None else ctx.now
    if newest is None:
        return result(
            check, "fail", f"The time column {column_name!r} has no values.", columns=[column_name]
        )
    age_days = (as_of - newest).total_seconds() / 86_400
    details = {
        "time_column": column_name,
        "newest": newest.isoformat(),
        "as_of": as_of.isoformat(),
        "age_days": age_days,
        "max_age_days": check.max_age_days,
        "read_as": reading,
        "measured": age_days,
        "threshold": check.max_age_days,
    }
    if age_days <= check.max_age_days:
        note = " (newest is in the future of as_of)" if age_days < 0 else ""
        return result(
            check,
            "pass",
            f"Newest {column_name} {newest.date()} is {age_days:.1f} days old{note}.",
            details=details,
        )
    return result(
        check,
        "fail",
        f"Data is stale: newest {column_name} {newest.date()} is {age_days:.1f} days before "
        f"{as_of.date()}, more than the {check.max_age_days:g} days allowed. Collect newer data.",
        columns=[column_name],
        details=details,
    )


def group_counts(data: _Data, groups: list[str]) -> dict[str, int]:
    """Rows per combination of the ``groups`` columns' values (as text, 'null' for nulls)."""
    table = pa.table({g: text_column(data.column(g)).fill_null("null") for g in groups})
    counted = table.group_by(groups).aggregate([([], "count_all")])
    keys = [counted.column(g).to_pylist() for g in groups]
    counts = counted.column("count_all").to_pylist()
    return {_SEP.join(parts): int(n) for *parts, n in zip(*keys, counts, strict=True)}


def _declared(
    check: CoverageCheck, ctx: CheckContext, observed: dict[str, int]
) -> tuple[list[list[str]], str]:
    values: list[list[str]] = []
    origins = set()
    for position, name in enumerate(check.groups):
        if name in check.values:
            values.append(sorted({as_text(v) for v in check.values[name]}))
            origins.add("the spec")
        elif ctx.charter_domain is not None and name in ctx.charter_domain.categories:
            values.append(sorted({as_text(v) for v in ctx.charter_domain.categories[name]}))
            origins.add(ctx.charter_domain.source)
        elif ctx.reference is not None and name in ctx.reference.version.columns:
            column = text_column(ctx.reference.column(name)).fill_null("null")
            values.append(sorted(pc.unique(column).to_pylist()))
            origins.add(f"reference {ctx.reference.version.short_ref}")
        else:
            seen = {key.split(_SEP)[position] for key in observed}
            values.append(sorted(seen))
            origins.add("the data")
    return values, " and ".join(sorted(origins))


def check_coverage(check: CoverageCheck, ctx: CheckContext) -> CheckResult:
    ctx.require_columns(check.groups, "groups")
    stray = [c for c in check.values if c not in check.groups]
    if stray:
        raise InvalidInput(
            f"The coverage check declares values for {stray}, which are not among its groups "
            f"{check.groups}; expected values only for group columns."
        )
    observed = group_counts(ctx.data, check.groups)
    values, origin = _declared(check, ctx, observed)
    size = 1
    for v in values:
        size *= max(len(v), 1)
    if size > MAX_GROUPS:
        raise InvalidInput(
            f"The coverage groups {check.groups} make {size} combinations; at most "
            f"{MAX_GROUPS} are checked. Use fewer or coarser group columns."
        )
    declared = [_SEP.join(parts) for parts in itertools.product(*values)]
    expected: dict[str, float] | None = None
    share_origin = None
    if check.expected_shares is not None:
        expected, share_origin = dict(check.expected_shares), "the spec"
    elif ctx.reference is not None:
        ref_counts = group_counts(ctx.reference, check.groups)
        total_ref = sum(ref_counts.values())
        expected = {k: n / total_ref for k, n in ref_counts.items()}
        share_origin = f"reference {ctx.reference.version.short_ref}"
    total = sum(observed.values())
    groups: dict[str, dict[str, Any]] = {}
    failing: list[str] = []
    for key in declared:
        rows = observed.get(key, 0)
        info: dict[str, Any] = {"rows": rows, "share": rows / max(total, 1)}
        problems = []
        if rows < check.min_rows:
            problems.append(f"{rows} rows < {check.min_rows}")
        if expected is not None:
            want = expected.get(key, 0.0)
            info["expected_share"] = want
            # shares are compared only where the expected count is large enough to judge
            if (
                want * total >= max(check.min_rows, 1)
                and abs(info["share"] / want - 1) > check.tolerance
            ):
                problems.append(f"share {100 * info['share']:.2f}% vs expected {100 * want:.2f}%")
        if problems:
            info["problems"] = problems
            failing.append(key)
        groups[key] = info
    undeclared = sorted(set(observed) - set(declared))
    details = {
        "groups": check.groups,
        "values_from": origin,
        "expected_shares_from": share_origin,
        "cells": groups,
        "undeclared": {k: observed[k] for k in undeclared},
        "measured": {k: groups[k]["rows"] for k in (failing or declared)},
        "threshold": check.min_rows,
    }
    label = " x ".join(check.groups)
    if not failing:
        return result(
            check,
            "pass",
            f"All {len(declared)} {label} groups have at least {check.min_rows} rows"
            + (" and expected shares" if expected else "")
            + ".",
            details=details,
        )
    listing = "; ".join(f"{label}={k}: {', '.join(groups[k]['problems'])}" for k in failing[:10])
    more = f" (and {len(failing) - 10} more)" if len(failing) > 10 else ""
    return result(
        check,
        "fail",
        f"{len(failing)} of {len(declared)} {label} groups are under-covered: {listing}{more}.",
        columns=check.groups,
        details=details,
    )
