"""Duplicate rows and duplicate ids, found by hashing in DuckDB.

DuckDB streams the Parquet file and spills to disk beyond
:data:`~mlsteward.data._checks._context.DUCKDB_MEMORY`, so memory stays bounded whatever
the number of rows. Equal rows (or ids) have equal hashes, so when all hashes are distinct
there is no duplicate and nothing more is read; when some hash repeats, only the rows with
a repeated hash are compared value by value, so a hash collision never counts as a
duplicate. Missing values compare equal (as in ``SELECT DISTINCT``).
"""

from __future__ import annotations

from typing import Any

from mlsteward.data._checks._context import CheckContext, quote, result
from mlsteward.data._checks._spec import DuplicateIdsCheck, DuplicateRowsCheck
from mlsteward.data._records import CheckResult

__all__ = [
    "check_duplicate_ids",
    "check_duplicate_rows",
    "duplicate_ids",
    "duplicate_rows",
]

_EXAMPLES = 5


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _hash(columns: list[str]) -> str:
    return f"hash({', '.join(quote(c) for c in columns)})"


def duplicate_rows(ctx: CheckContext, columns: list[str]) -> int:
    """Rows equal (on ``columns``) to an earlier row: rows minus distinct rows."""
    row_hash = _hash(columns)
    ((distinct_hashes,),) = ctx.sql(f"SELECT count(DISTINCT {row_hash}) FROM {{data}}")
    if distinct_hashes == ctx.rows:
        return 0
    selection = ", ".join(quote(c) for c in columns)
    repeated = f"SELECT {row_hash} FROM {{data}} GROUP BY 1 HAVING count(*) > 1"
    ((candidates, distinct),) = ctx.sql(
        f"WITH candidates AS (SELECT {selection} FROM {{data}} WHERE {row_hash} IN "
        f"({repeated})) SELECT (SELECT count(*) FROM candidates), "
        "(SELECT count(*) FROM (SELECT DISTINCT * FROM candidates))"
    )
    return int(candidates) - int(distinct)


def duplicate_ids(ctx: CheckContext, columns: list[str]) -> dict[str, dict[str, Any]]:
    """Per id column: values repeated (beyond their first occurrence), nulls, and up to five
    repeated values in the order they first occur."""
    parts = ", ".join(
        f"count({quote(c)}), count(DISTINCT hash({quote(c)})) FILTER (WHERE {quote(c)} IS NOT NULL)"
        for c in columns
    )
    (row,) = ctx.sql(f"SELECT count(*), {parts} FROM {{data}}")
    total = int(row[0])
    found: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(columns):
        present, distinct_hashes = int(row[1 + 2 * i]), int(row[2 + 2 * i])
        duplicated, examples = 0, list[Any]()
        if distinct_hashes < present:
            duplicated, examples = _repeated_values(ctx, name)
        found[name] = {"duplicated": duplicated, "nulls": total - present, "examples": examples}
    return found


def _repeated_values(ctx: CheckContext, name: str) -> tuple[int, list[Any]]:
    column = quote(name)
    numbered = "file_row_number" not in ctx.version.columns
    source = "read_parquet($data, file_row_number=true)" if numbered else "{data}"
    order = "min(file_row_number)" if numbered else column
    repeated = (
        f"SELECT hash({column}) FROM {{data}} WHERE {column} IS NOT NULL "
        "GROUP BY 1 HAVING count(*) > 1"
    )
    rows = ctx.sql(
        f"SELECT {column}, count(*) FROM {source} WHERE {column} IS NOT NULL AND "
        f"hash({column}) IN ({repeated}) GROUP BY {column} HAVING count(*) > 1 "
        f"ORDER BY {order}"
    )
    return sum(int(n) - 1 for _, n in rows), [value for value, _ in rows[:_EXAMPLES]]


def check_duplicate_rows(check: DuplicateRowsCheck, ctx: CheckContext) -> CheckResult:
    types = ctx.version.column_types
    columns = [c for c in ctx.version.columns if not (check.ignore_id_columns and types[c] == "id")]
    if not columns:
        return result(check, "skipped", "Every column is an id column; nothing to compare.")
    duplicates = duplicate_rows(ctx, columns)
    share = duplicates / max(ctx.rows, 1)
    details = {
        "duplicates": duplicates,
        "share": share,
        "compared_columns": len(columns),
        "measured": share,
        "threshold": check.max_share,
    }
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
    found = duplicate_ids(ctx, columns)
    bad = [c for c, v in found.items() if v["duplicated"] or v["nulls"]]
    details = {
        "columns": found,
        "measured": {c: v["duplicated"] + v["nulls"] for c, v in found.items()},
        "threshold": 0,
    }
    if not bad:
        return result(check, "pass", f"Ids unique in {', '.join(columns)}.", details=details)
    parts = [
        f"{c}: {found[c]['duplicated']} repeated (e.g. {found[c]['examples'][:3]}), "
        f"{found[c]['nulls']} null"
        for c in bad
    ]
    return result(
        check,
        "fail",
        "Ids are not unique: " + "; ".join(parts) + ".",
        columns=bad,
        details=details,
    )
