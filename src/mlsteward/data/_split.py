"""Splitting a version into child versions: random, stratified, by time, by group.

Every split is a pure function of (parent rows, method, parameters, seed): the same parent
with the same parameters gives byte-for-byte the same children, hence the same versions
(registering them again is a no-op). Rows keep their parent order inside each child. Each
child gets a lineage edge ``split`` whose params record method, part, seed, fractions and
columns, so the split can be reproduced from the lineage alone.

- ``random``: a seeded permutation; part sizes by largest remainder of ``n * fraction``.
- ``stratified``: the same inside each stratum (value of ``stratify``, the target by
  default; missing values are a stratum), so every part keeps the class shares.
- ``time``: rows before the first cutoff, between cutoffs, after the last (a row exactly
  at a cutoff goes after it); no seed involved.
- ``group``: whole groups (values of ``group_column``) are assigned, in a seeded order,
  to the part their cumulative row share falls in; no group is on two sides.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlsteward.core import InvalidInput, ensure_utc, validate_name
from mlsteward.data._checks._target import arrow_codes
from mlsteward.data._records import DatasetVersion
from mlsteward.data._register import ParentLink, PendingVersion, insert, prepare
from mlsteward.data._versions import load_table, resolve_dataset
from mlsteward.store import Store

__all__ = ["DEFAULT_FRACTIONS", "SplitMethod", "assign_parts", "split_dataset"]

SplitMethod = Literal["random", "stratified", "time", "group"]
DEFAULT_FRACTIONS: Final = {"train": 0.7, "validation": 0.15, "test": 0.15}
_DEFAULT_TIME_PARTS: Final = {1: ("train", "test"), 2: ("train", "validation", "test")}


def _counts(n: int, fractions: np.ndarray) -> np.ndarray:
    """Integer part sizes summing to ``n``, by largest remainder (ties: earlier part)."""
    exact = n * fractions
    counts: np.ndarray = np.floor(exact).astype(np.int64)
    short = n - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


def _random(n: int, fractions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    parts = np.repeat(np.arange(fractions.size), _counts(n, fractions))
    out = np.empty(n, dtype=np.int64)
    out[rng.permutation(n)] = parts
    return out


def _stratified(codes: np.ndarray, fractions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = codes.size
    order = rng.permutation(n)
    order = order[np.argsort(codes[order], kind="stable")]  # random order inside each stratum
    sizes = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.arange(n) - starts[codes[order]]  # position of each row inside its stratum
    bounds = np.cumsum(
        np.stack([_counts(int(s), fractions) for s in sizes]), axis=1
    )  # strata, not rows
    parts = (rank[:, None] >= bounds[codes[order]]).sum(axis=1)
    out = np.empty(n, dtype=np.int64)
    out[order] = parts
    return out


def _grouped(codes: np.ndarray, fractions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sizes = np.bincount(codes)
    order = rng.permutation(sizes.size)
    before = np.concatenate([[0], np.cumsum(sizes[order])[:-1]])
    middle = (before + sizes[order] / 2.0) / codes.size
    edges = np.cumsum(fractions)[:-1]
    group_part = np.empty(sizes.size, dtype=np.int64)
    group_part[order] = np.searchsorted(edges, middle, side="right")
    parts: np.ndarray = group_part[codes]
    return parts


def _cutoff_scalar(value: Any, column: pa.ChunkedArray, name: str) -> pa.Scalar:
    kind = column.type
    try:
        if pa.types.is_timestamp(kind):
            moment = datetime.fromisoformat(value) if isinstance(value, str) else value
            if isinstance(moment, date) and not isinstance(moment, datetime):
                moment = datetime(moment.year, moment.month, moment.day)
            if kind.tz is not None:
                moment = ensure_utc(moment)
            elif moment.tzinfo is not None:
                moment = ensure_utc(moment).replace(tzinfo=None)
            return pa.scalar(moment, type=kind)
        if pa.types.is_date(kind):
            day = date.fromisoformat(value) if isinstance(value, str) else value
            if isinstance(day, datetime):
                day = day.date()
            return pa.scalar(day, type=kind)
        if pa.types.is_integer(kind) or pa.types.is_floating(kind):
            return pa.scalar(float(value), type=pa.float64())
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return pa.scalar(str(value), type=kind)
    except (TypeError, ValueError, pa.ArrowInvalid) as exc:
        raise InvalidInput(
            f"The cutoff {value!r} cannot be compared with the time column {name!r} "
            f"({kind}): {exc}. Expected an ISO date such as '2016-01-01' or a number."
        ) from exc
    raise InvalidInput(
        f"The time column {name!r} has type {kind}; a time split needs timestamps, dates, "
        "numbers (e.g. years) or ISO text."
    )


def _by_time(column: pa.ChunkedArray, cutoffs: Sequence[Any], name: str) -> np.ndarray:
    if column.null_count:
        raise InvalidInput(
            f"The time column {name!r} has {column.null_count} missing values; a time split "
            "must place every row. Drop or fill those rows first."
        )
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    scalars = [_cutoff_scalar(c, column, name) for c in cutoffs]
    for earlier, later in itertools.pairwise(scalars):
        if not pc.less(earlier, later).as_py():
            raise InvalidInput(
                f"Cutoffs must be strictly increasing, got {list(cutoffs)}; sort them."
            )
    values = column.cast(pa.float64()) if pa.types.is_integer(column.type) else column
    parts = np.zeros(len(column), dtype=np.int64)
    for scalar in scalars:  # one pass per cutoff
        parts += pc.greater_equal(values, scalar).to_numpy(zero_copy_only=False).astype(np.int64)
    return parts


def _fractions(fractions: Mapping[str, float] | None) -> tuple[list[str], np.ndarray]:
    given = dict(fractions if fractions is not None else DEFAULT_FRACTIONS)
    if len(given) < 2:
        raise InvalidInput(
            f"A split needs at least two parts, got {list(given)}; expected e.g. "
            "{'train': 0.8, 'test': 0.2}."
        )
    values = np.array(list(given.values()), dtype=np.float64)
    if (values <= 0).any() or abs(values.sum() - 1.0) > 1e-9:
        raise InvalidInput(
            f"Split fractions must be positive and sum to 1, got {given} "
            f"(sum {values.sum():g}). Adjust them, e.g. train 0.7, validation 0.15, test 0.15."
        )
    return list(given), values


def assign_parts(
    table: pa.Table,
    method: SplitMethod,
    *,
    fractions: Mapping[str, float] | None = None,
    seed: int = 0,
    stratify: str | None = None,
    time_column: str | None = None,
    cutoffs: Sequence[Any] | None = None,
    group_column: str | None = None,
) -> np.ndarray:
    """The part index of every row of ``table`` (pure; see the module docstring)."""
    if method == "time":
        if not time_column or not cutoffs:
            raise InvalidInput(
                "A time split needs a time column and at least one cutoff, e.g. "
                "method='time', cutoffs=['2016-01-01']."
            )
        return _by_time(table.column(time_column), cutoffs, time_column)
    _, values = _fractions(fractions)
    rng = np.random.default_rng(seed)
    if method == "random":
        return _random(table.num_rows, values, rng)
    if method == "stratified":
        if stratify is None:
            raise InvalidInput(
                "A stratified split needs a column to stratify by: pass stratify=COLUMN, or "
                "register the version with a target."
            )
        return _stratified(arrow_codes(table.column(stratify)), values, rng)
    if method == "group":
        if group_column is None:
            raise InvalidInput("A group split needs group_column=COLUMN (e.g. a household id).")
        return _grouped(arrow_codes(table.column(group_column)), values, rng)
    raise InvalidInput(
        f"Unknown split method {method!r}; expected random, stratified, time or group."
    )


def split_dataset(
    store: Store,
    project: str,
    ref: str | DatasetVersion,
    *,
    method: SplitMethod = "random",
    fractions: Mapping[str, float] | None = None,
    seed: int = 0,
    stratify: str | None = None,
    time_column: str | None = None,
    cutoffs: Sequence[Any] | None = None,
    parts: Sequence[str] | None = None,
    group_column: str | None = None,
    names: Mapping[str, str] | None = None,
) -> dict[str, DatasetVersion]:
    """Split a version into child versions, recorded with lineage; return them by part.

    ``fractions`` (part -> share, default train 0.7 / validation 0.15 / test 0.15) serve
    the random, stratified and group methods; a time split takes ``cutoffs`` and names its
    ``parts`` (default train/test or train/validation/test). Children are named
    ``<parent name>-<part>`` unless ``names`` maps parts to names, get the part as role
    (when it is a valid role name) and inherit the parent's source, licence, consent, time
    column, target and column types. Every part must receive rows; all children are
    recorded in one transaction, or none.
    """
    parent = ref if isinstance(ref, DatasetVersion) else resolve_dataset(store, project, ref)
    if method == "stratified" and stratify is None:
        stratify = parent.target
    if method == "time" and time_column is None:
        time_column = parent.time_column
    for what, column in (
        ("stratify", stratify),
        ("time_column", time_column),
        ("group_column", group_column),
    ):
        if column is not None and column not in parent.columns:
            raise InvalidInput(
                f"{what} {column!r} is not a column of {parent.short_ref}; its columns are: "
                f"{', '.join(parent.columns[:40])}."
            )
    table = load_table(store, parent)
    index = assign_parts(
        table,
        method,
        fractions=fractions,
        seed=seed,
        stratify=stratify,
        time_column=time_column,
        cutoffs=cutoffs,
        group_column=group_column,
    )
    if method == "time":
        count = len(cutoffs or ())
        part_names = (
            list(parts)
            if parts is not None
            else list(_DEFAULT_TIME_PARTS.get(count, [f"part{i}" for i in range(count + 1)]))
        )
        if len(part_names) != count + 1:
            raise InvalidInput(
                f"{count} cutoff(s) make {count + 1} parts, but {len(part_names)} part names "
                f"were given ({part_names})."
            )
        params: dict[str, Any] = {
            "time_column": time_column,
            "cutoffs": [str(c) for c in cutoffs or ()],
        }
    else:
        part_names = list((fractions or DEFAULT_FRACTIONS).keys())
        params = {"fractions": dict(fractions or DEFAULT_FRACTIONS), "seed": seed}
        if stratify is not None and method == "stratified":
            params["stratify"] = stratify
        if method == "group":
            params["group_column"] = group_column
    sizes = np.bincount(index, minlength=len(part_names))
    empty = [p for p, s in zip(part_names, sizes, strict=True) if s == 0]
    if empty:
        raise InvalidInput(
            f"Splitting {parent.short_ref} ({parent.row_count} rows) by {method} leaves "
            f"part(s) {', '.join(empty)} empty; expected rows in every part. Use larger "
            "fractions, other cutoffs, or more data."
        )
    child_names = {p: (names or {}).get(p, f"{parent.name}-{p}") for p in part_names}
    for p in part_names:
        validate_name("dataset", child_names[p])
    pending: dict[str, PendingVersion] = {}
    for position, part in enumerate(part_names):
        rows = np.flatnonzero(index == position)
        child = table.take(pa.array(rows))
        role = part if _valid_role(part) else None
        pending[part] = prepare(
            store,
            project,
            child_names[part],
            child,
            role=role,
            source=parent.source,
            license=parent.license,
            consent=parent.consent,
            time_column=parent.time_column,
            target=parent.target,
            column_types=parent.column_types,
            parents=[
                ParentLink(
                    parent, "split", {"method": method, "part": part, "parts": part_names, **params}
                )
            ],
        )
    new = [part for part, p in pending.items() if p.existing is None]
    with store.transaction() as tx:
        children = {part: insert(tx, p) for part, p in pending.items()}
        if not new:
            return children  # the same split again: nothing new to record
        tx.audit(
            "dataset.split",
            "dataset_version",
            f"{project}/{parent.ref}",
            {"method": method, **params, "children": {p: v.ref for p, v in children.items()}},
        )
    return children


def _valid_role(part: str) -> bool:
    try:
        validate_name("role", part)
    except InvalidInput:
        return False
    return True
