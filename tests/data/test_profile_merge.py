"""Mergeable summaries: profile(A).merge(profile(B)) against profile(A + B).

Exact for row counts, counts, missing, min, max, histograms, exact value counts, category
counts within capacity and HyperLogLog registers; mean and std within float rounding;
quantiles within the stated error (they come from the identical histograms).
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlsteward.core import InvalidInput
from mlsteward.data import QUANTILES, DatasetProfile, ProfileBuilder, profile_dataset
from mlsteward.data._column_batch import CATEGORY_CAPACITY
from mlsteward.data._sketches import EXACT_CAPACITY

TYPES = {"x": "numeric", "n": "numeric", "c": "categorical", "t": "datetime"}


def assert_same(merged: DatasetProfile, whole: DatasetProfile) -> None:
    """Everything equal; the moments (mean, m2) equal up to float rounding."""
    assert merged.row_count == whole.row_count
    assert list(merged.columns) == list(whole.columns)
    for name, column in whole.columns.items():
        got, want = merged[name].to_dict(), column.to_dict()
        got_moments, want_moments = got.pop("moments"), want.pop("moments")
        assert got == want, name
        if want_moments is None:
            assert got_moments is None
            continue
        assert got_moments["count"] == want_moments["count"]
        scale = max(1.0, abs(want_moments["mean"]))
        assert got_moments["mean"] == pytest.approx(
            want_moments["mean"], rel=1e-9, abs=1e-9 * scale
        )
        assert got_moments["m2"] == pytest.approx(want_moments["m2"], rel=1e-7, abs=1e-6 * scale**2)
        if column.histogram is not None:
            for q in QUANTILES.values():
                assert merged[name].quantile(q) == column.quantile(q)


def _table(rows: list[tuple[Any, ...]]) -> pa.Table:
    xs, ns, cs, ts = zip(*rows, strict=True) if rows else ((), (), (), ())
    return pa.table(
        {
            "x": pa.array(list(xs), pa.float64()),
            "n": pa.array(list(ns), pa.int64()),
            "c": pa.array(list(cs), pa.string()),
            "t": pa.array(list(ts), pa.timestamp("us")),
        }
    )


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=64)
row = st.tuples(
    st.one_of(finite, st.none(), st.just(math.nan), st.just(math.inf), st.just(-0.0)),
    st.one_of(st.integers(-5, 40), st.none()),
    st.one_of(st.sampled_from(["a", "b", "c", "é", ""]), st.none()),
    st.one_of(st.integers(0, 2**40), st.none()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(row, max_size=120),
    cuts=st.lists(st.integers(0, 120), max_size=4),
    batch_rows=st.integers(1, 64),
)
def test_merging_random_splits_equals_profiling_the_whole(
    rows: list[tuple[Any, ...]], cuts: list[int], batch_rows: int
) -> None:
    table = _table(rows)
    whole = profile_dataset(table, column_types=TYPES, batch_rows=10**6)
    bounds = [0, *sorted(min(c, len(rows)) for c in cuts), len(rows)]
    parts = [
        profile_dataset(table.slice(a, b - a), column_types=TYPES, batch_rows=batch_rows)
        for a, b in itertools.pairwise(bounds)
    ]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    assert_same(merged, whole)
    assert_same(parts[-1].merge(parts[0]) if len(parts) == 2 else merged, whole)  # order-free


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), split=st.floats(0.0, 1.0))
def test_merged_quantiles_stay_within_the_error_of_the_exact_ones(seed: int, split: float) -> None:
    rng = np.random.default_rng(seed)
    values = rng.lognormal(rng.uniform(-3, 3), rng.uniform(0.2, 2), 3000) * rng.choice([-1, 1])
    cut = int(split * len(values))
    a, b = (
        profile_dataset(pa.table({"x": v}), column_types={"x": "numeric"})
        for v in (values[:cut], values[cut:])
    )
    merged = a.merge(b)["x"]
    for q in QUANTILES.values():
        truth = np.quantile(values, q, method="lower")
        assert abs(merged.quantile(q) - truth) <= abs(truth) / 129 + 1e-300


def test_streaming_a_parquet_file_in_small_batches_equals_the_whole_table(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n = 60_000
    table = pa.table(
        {
            "x": pa.array(rng.normal(10, 3, n), mask=rng.random(n) < 0.1),
            "n": rng.integers(0, 500, n),
            "c": pa.array(rng.choice(["north", "south", "east", "west"], n)).dictionary_encode(),
            "t": pa.array(rng.integers(0, 10**15, n), pa.timestamp("us")),
        }
    )
    path = tmp_path / "big.parquet"
    pq.write_table(table, path, row_group_size=7_000)
    seen: list[tuple[int, int | None]] = []
    streamed = profile_dataset(
        path, column_types=TYPES, batch_rows=1_000, progress=lambda d, t: seen.append((d, t))
    )
    whole = profile_dataset(table, column_types=TYPES, batch_rows=10**9)
    assert_same(streamed, whole)
    assert len(seen) >= n // 1_000  # read batch by batch, never whole
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1] == (n, n)


def test_a_builder_adds_batch_by_batch() -> None:
    table = _table([(float(i), i % 7, "abc"[i % 3], i * 10**9) for i in range(500)])
    with ProfileBuilder(TYPES) as builder:
        for batch in table.to_batches(max_chunksize=37):
            builder.add(batch)
        assert builder.row_count == 500
        assert_same(builder.profile(), profile_dataset(table, column_types=TYPES))
    with pytest.raises(InvalidInput, match="No batch was added"):
        ProfileBuilder(TYPES).profile()
    builder = ProfileBuilder(TYPES)
    builder.add(table.slice(0, 10))
    with pytest.raises(InvalidInput, match="every batch needs the same columns"):
        builder.add(table.select(["x", "n"]))


def test_exact_value_counts_are_kept_exactly_as_long_as_the_union_fits() -> None:
    small = profile_dataset(pa.table({"n": np.arange(600.0)}), column_types={"n": "numeric"})
    other = profile_dataset(pa.table({"n": np.arange(300.0, 900.0)}), column_types={"n": "numeric"})
    apart = profile_dataset(
        pa.table({"n": np.arange(2000.0, 2600.0)}), column_types={"n": "numeric"}
    )
    fits = small.merge(other)["n"]
    assert fits.exact_values is not None and fits.distinct == 900
    assert small.merge(apart)["n"].exact_values is None  # 1,200 > capacity
    whole = np.concatenate([np.arange(600.0), np.arange(2000.0, 2600.0)])
    assert (
        profile_dataset(pa.table({"n": whole}), column_types={"n": "numeric"})["n"].exact_values
        is None
    )
    assert 600 + 600 > EXACT_CAPACITY >= 900


def test_category_summaries_beyond_capacity_merge_within_their_bound() -> None:
    rng = np.random.default_rng(2)
    values = (rng.zipf(1.2, 40_000) % 6_000).astype(str)
    truth: dict[str, int] = {}
    for value, count in zip(*np.unique(values, return_counts=True), strict=True):
        truth[str(value)] = int(count)
    left, right = (
        profile_dataset(pa.table({"c": v}), column_types={"c": "categorical"})
        for v in (values[:15_000], values[15_000:])
    )
    merged = left.merge(right)["c"]
    assert not merged.categories.exact and merged.count == len(values)
    assert merged.category_error <= len(values) / (CATEGORY_CAPACITY + 1)
    for value, count in merged.top_categories(50):
        assert truth[value] - merged.category_error <= count <= truth[value]


def test_to_dict_round_trips_through_json(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    table = pa.table(
        {
            "x": np.append(rng.normal(size=3000), [np.inf, -np.inf]),
            "n": rng.integers(0, 9, 3002),
            "c": rng.choice(["u", "v"], 3002),
            "t": pa.array(rng.integers(0, 10**15, 3002), pa.timestamp("us", tz="UTC")),
        }
    )
    profile = profile_dataset(table, column_types=TYPES)
    text = json.dumps(profile.to_dict(), allow_nan=False)  # strict JSON: no NaN or inf
    back = DatasetProfile.from_json(text)
    assert back == profile
    assert back["x"].quantiles == profile["x"].quantiles and back["x"].max == math.inf
    assert back["t"].min == profile["t"].min and back["t"].min.tzinfo is not None
    assert back["c"].category_frequencies() == profile["c"].category_frequencies()
    assert back.merge(profile)["n"].count == 2 * profile["n"].count
    assert json.loads(text)["format"] == "mlsteward.profile" and json.loads(text)["version"] == 1


def test_reading_and_merging_bad_profiles_fails_clearly() -> None:
    profile = profile_dataset(pa.table({"x": [1.0, 2.0]}), column_types={"x": "numeric"})
    document = profile.to_dict()
    with pytest.raises(InvalidInput, match="not a Steward profile"):
        DatasetProfile.from_dict({"format": "other"})
    with pytest.raises(InvalidInput, match="version 99 is not supported"):
        DatasetProfile.from_dict({**document, "version": 99})
    with pytest.raises(InvalidInput, match="malformed"):
        DatasetProfile.from_dict({**document, "columns": [{"name": "x"}]})
    other = profile_dataset(pa.table({"y": [1.0]}), column_types={"y": "numeric"})
    with pytest.raises(
        InvalidInput, match=r"only in the first \['x'\], only in the second \['y'\]"
    ):
        profile.merge(other)
    as_text = profile_dataset(pa.table({"x": ["1"]}), column_types={"x": "categorical"})
    with pytest.raises(InvalidInput, match="numeric \\(numeric\\) in one and categorical"):
        profile.merge(as_text)
    codes = profile_dataset(pa.table({"x": [1, 2]}), column_types={"x": "categorical"})
    with pytest.raises(InvalidInput, match="int values with counts of string values"):
        codes.merge(as_text)
