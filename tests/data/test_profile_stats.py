"""Profile numbers against independent references (numpy, pandas) and their stated errors."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlsteward.core import InvalidInput, NotFound
from mlsteward.data import QUANTILES, DatasetProfile, profile_dataset
from mlsteward.data._column_batch import CATEGORY_CAPACITY
from mlsteward.data._sketches import LOG_RELATIVE_ACCURACY

ALPHA = LOG_RELATIVE_ACCURACY  # 1/129
HLL_3_SIGMA = 3 * 1.04 / math.sqrt(2**14)


def _mixed(n: int = 20_000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    normal = rng.normal(-3.0, 25.0, n)
    normal[rng.random(n) < 0.07] = np.nan
    income = rng.lognormal(10, 1.2, n)
    age = rng.integers(0, 100, n)
    town = rng.choice(
        ["boston", "salem", "lowell", "lynn", "quincy"], n, p=[0.4, 0.3, 0.15, 0.1, 0.05]
    )
    town = np.where(rng.random(n) < 0.02, None, town)
    return pd.DataFrame({"normal": normal, "income": income, "age": age, "town": town})


TYPES = {"normal": "numeric", "income": "numeric", "age": "numeric", "town": "categorical"}


@pytest.fixture(scope="module")
def mixed() -> pd.DataFrame:
    return _mixed()


@pytest.fixture(scope="module")
def profile(mixed: pd.DataFrame) -> DatasetProfile:
    return profile_dataset(mixed, column_types=TYPES, batch_rows=4096)


@pytest.mark.parametrize("name", ["normal", "income", "age"])
def test_numeric_counts_moments_and_bounds_match_numpy(
    mixed: pd.DataFrame, profile: DatasetProfile, name: str
) -> None:
    values = mixed[name].to_numpy(dtype=float)
    present = values[~np.isnan(values)]
    column = profile[name]
    assert profile.row_count == len(mixed)
    assert column.count == len(present)
    assert column.missing == int(np.isnan(values).sum())
    assert column.min == present.min() and column.max == present.max()
    assert column.mean == pytest.approx(present.mean(), rel=1e-12)
    assert column.std == pytest.approx(present.std(ddof=1), rel=1e-10)
    assert column.missing_rate == pytest.approx(np.isnan(values).mean())


@pytest.mark.parametrize("name", ["normal", "income"])
def test_continuous_quantiles_are_within_the_relative_error(
    mixed: pd.DataFrame, profile: DatasetProfile, name: str
) -> None:
    present = mixed[name].dropna().to_numpy()
    column = profile[name]
    assert column.exact_values is None  # too many values: the log buckets answer
    for key, q in QUANTILES.items():
        truth = np.quantile(present, q, method="lower")
        assert abs(column.quantiles[key] - truth) <= ALPHA * abs(truth) + 1e-12, key
    assert column.quantile(0.0) == present.min() and column.quantile(1.0) == present.max()


def test_low_cardinality_numbers_are_exact(mixed: pd.DataFrame, profile: DatasetProfile) -> None:
    ages = mixed["age"].to_numpy()
    column = profile["age"]
    assert column.exact_values is not None and column.distinct_exact
    assert column.distinct == len(np.unique(ages))
    for key, q in QUANTILES.items():
        assert column.quantiles[key] == np.quantile(ages, q, method="lower"), key
    edges = np.array([0, 10, 25, 50, 99.5])
    reference, _ = np.histogram(ages, bins=edges)
    assert column.histogram_on(edges).tolist() == reference.tolist()


def test_histogram_on_counts_every_value_and_agrees_with_numpy_away_from_edges(
    mixed: pd.DataFrame, profile: DatasetProfile
) -> None:
    present = mixed["income"].to_numpy()
    edges = np.quantile(present, [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    counts = profile["income"].histogram_on(edges)
    reference, _ = np.histogram(present, bins=edges)
    assert counts.sum() == len(present)
    # only values within the bucket error of an edge may move to the neighbouring bin
    near = [np.sum(np.abs(present - e) <= 2 * ALPHA * abs(e)) for e in edges[1:-1]]
    assert np.abs(np.cumsum(counts - reference)[:-1]).tolist() <= near
    open_ended = profile["income"].histogram_on([-np.inf, 1e4, np.inf])
    assert open_ended.sum() == len(present)
    dropped = profile["income"].histogram_on([1e4, 1e5], clip=False)
    assert 0 < dropped.sum() < len(present)


def test_distribution_gives_weighted_values_for_distances(
    mixed: pd.DataFrame, profile: DatasetProfile
) -> None:
    from scipy.stats import wasserstein_distance

    ages, weights = profile["age"].distribution()
    assert ages.tolist() == sorted(set(mixed["age"].tolist())) and weights.sum() == len(mixed)
    income = mixed["income"].to_numpy()
    values, counts = profile["income"].distribution()
    assert np.all(np.diff(values) > 0) and counts.sum() == len(income)
    shifted = income * 1.1
    exact = wasserstein_distance(income, shifted)
    approximate = wasserstein_distance(values, values * 1.1, counts, counts)
    assert approximate == pytest.approx(exact, rel=2 * ALPHA)


def test_display_histogram_has_integer_bins_for_small_integer_ranges() -> None:
    table = pa.table({"year": pa.array([2015, 2016, 2016, 2018, 2018, 2018])})
    edges, counts = profile_dataset(table, column_types={"year": "numeric"})[
        "year"
    ].histogram_counts()
    assert edges.tolist() == [2014.5, 2015.5, 2016.5, 2017.5, 2018.5]
    assert counts.tolist() == [1, 2, 0, 3]


def test_categories_are_counted_exactly(mixed: pd.DataFrame, profile: DatasetProfile) -> None:
    column = profile["town"]
    reference = mixed["town"].value_counts()
    assert column.category_frequencies() == reference.to_dict()
    assert column.top_categories(2) == list(reference.head(2).items())
    assert column.missing == mixed["town"].isna().sum()
    assert column.distinct == 5 and column.distinct_exact and column.category_error == 0
    assert (column.min, column.max) == ("boston", "salem")


def test_distinct_estimates_are_within_three_standard_errors() -> None:
    n = 200_000
    strings = pa.array([f"user-{i:07d}" for i in range(n)])
    floats = np.random.default_rng(3).normal(size=n)
    table = pa.table({"user": strings, "x": floats})
    profile = profile_dataset(table, column_types={"user": "id", "x": "numeric"})
    for name in ("user", "x"):
        column = profile[name]
        assert not column.distinct_exact
        assert column.distinct_error == pytest.approx(1.04 / 128)
        assert abs(column.distinct - n) <= HLL_3_SIGMA * n, name


def test_many_categories_turn_into_a_bounded_heavy_hitters_summary() -> None:
    rng = np.random.default_rng(5)
    values = rng.zipf(1.3, 60_000) % 10_000
    table = pa.table({"code": pa.array(values.astype(str))})
    column = profile_dataset(table, column_types={"code": "categorical"}, batch_rows=8192)["code"]
    truth = pd.Series(values.astype(str)).value_counts()
    assert len(truth) > CATEGORY_CAPACITY and not column.categories.exact
    assert 0 < column.category_error <= len(values) / (CATEGORY_CAPACITY + 1)
    for value, count in column.top_categories(20):
        assert truth[value] - column.category_error <= count <= truth[value]
    assert [v for v, _ in column.top_categories(3)] == list(truth.index[:3])


def test_missing_nan_infinity_and_negative_zero() -> None:
    values = [1.0, None, float("nan"), float("inf"), -float("inf"), -0.0, 0.0, 2.5]
    column = profile_dataset(pa.table({"x": values}), column_types={"x": "numeric"})["x"]
    assert (column.count, column.missing, column.infinite) == (6, 2, 2)
    assert column.min == -math.inf and column.max == math.inf
    assert column.mean == pytest.approx(np.mean([1.0, -0.0, 0.0, 2.5]))
    assert column.distinct == 5  # -0.0 and 0.0 are one value
    assert column.quantile(0.5) == 0.0
    edges, counts = column.histogram_counts(4)
    assert (edges[0], edges[-1], counts.sum()) == (-0.0, 2.5, 6)  # infinities in outer bins


def test_datetimes_have_exact_bounds_and_day_accurate_quantiles() -> None:
    rng = np.random.default_rng(7)
    start = datetime(2015, 1, 1, tzinfo=UTC)
    seconds = int(start.timestamp()) + np.sort(rng.integers(0, 4 * 365 * 86_400, 5000))
    stamps = pd.Series(pd.to_datetime(seconds, unit="s", utc=True))
    stamps[::50] = pd.NaT
    column = profile_dataset(pd.DataFrame({"t": stamps}), column_types={"t": "datetime"})["t"]
    present = stamps.dropna()
    assert column.missing == stamps.isna().sum() and column.count == len(present)
    assert column.min == present.min().to_pydatetime() >= start
    assert column.max == present.max().to_pydatetime()
    for q in (0.05, 0.5, 0.95):
        truth = present.quantile(q, interpolation="lower").to_pydatetime()
        assert timedelta(0) <= truth - column.quantile(q) < timedelta(days=1)
    assert abs(column.mean - present.mean().to_pydatetime()) < timedelta(seconds=1)


def test_dates_and_iso_strings_declared_datetime() -> None:
    table = pa.table(
        {
            "day": pa.array([0, 1, None, 400], pa.date32()),
            "text": ["2020-01-01T10:00:00", "2020-01-03T00:00:00", None, "2021-06-01T00:00:00"],
        }
    )
    profile = profile_dataset(table, column_types={"day": "datetime", "text": "datetime"})
    assert profile["day"].max == datetime(1971, 2, 5)
    assert profile["day"].quantile(0.5) == datetime(1970, 1, 2)  # dates are exact
    assert profile["text"].min == datetime(2020, 1, 1, 10)


def test_booleans_text_and_nested_values() -> None:
    table = pa.table(
        {
            "flag": [True, False, True, None],
            "note": ["a b c", "a b c", None, "d"],
            "tags": [[1], [2, 3], None, []],
        }
    )
    profile = profile_dataset(
        table, column_types={"flag": "boolean", "note": "text", "tags": "text"}
    )
    assert profile["flag"].category_frequencies() == {True: 2, False: 1}
    assert profile["note"].top_categories(1) == [("a b c", 2)]
    assert (profile["tags"].kind, profile["tags"].count, profile["tags"].missing) == ("other", 3, 1)
    assert profile["tags"].distinct is None


def test_types_are_inferred_when_not_given() -> None:
    frame = pd.DataFrame({"age": np.arange(100, dtype=float), "sex": ["1", "2"] * 50})
    profile = profile_dataset(frame)
    assert profile.column_types == {"age": "numeric", "sex": "categorical"}
    partly = profile_dataset(frame, column_types={"sex": "text"})
    assert partly.column_types == {"age": "numeric", "sex": "text"}


def test_every_source_kind_gives_the_same_profile(tmp_path: Path, mixed: pd.DataFrame) -> None:
    import polars as pl

    table = pa.Table.from_pandas(mixed, preserve_index=False)
    pq.write_table(table, tmp_path / "data.parquet", row_group_size=3000)
    mixed.to_csv(tmp_path / "data.csv", index=False)
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(table.slice(0, 9000), parts / "a.parquet")
    pq.write_table(table.slice(9000), parts / "b.parquet")
    reference = profile_dataset(table, column_types=TYPES)
    for source in (
        mixed,
        pl.from_pandas(mixed),
        tmp_path / "data.parquet",
        str(tmp_path / "data.parquet"),
        parts,
        table.to_batches()[0] if table.num_rows == len(table.to_batches()[0]) else table,
    ):
        got = profile_dataset(source, column_types=TYPES, batch_rows=5000)
        assert got["age"].histogram == reference["age"].histogram
        assert got["town"].categories == reference["town"].categories
        assert got.row_count == reference.row_count
    from_csv = profile_dataset(tmp_path / "data.csv", column_types=TYPES)
    assert from_csv["town"].category_frequencies() == reference["town"].category_frequencies()
    assert from_csv["age"].exact_values == reference["age"].exact_values
    assert from_csv["normal"].count == reference["normal"].count


def test_empty_inputs_give_an_empty_profile(tmp_path: Path) -> None:
    table = pa.table({"x": pa.array([], pa.float64()), "c": pa.array([], pa.string())})
    pq.write_table(table, tmp_path / "empty.parquet")
    for source in (table, tmp_path / "empty.parquet"):
        profile = profile_dataset(source, column_types={"x": "numeric", "c": "categorical"})
        assert profile.row_count == 0
        assert profile["x"].count == 0 and profile["x"].mean is None and profile["x"].distinct == 0
        assert profile["x"].quantile(0.5) is None and profile["c"].top_categories() == []


@pytest.mark.parametrize(
    ("source", "error", "words"),
    [
        ("missing.parquet", NotFound, "does not exist"),
        ("data.xlsx", InvalidInput, r"Cannot profile .*data\.xlsx: it is a \.xlsx file; expected"),
        ("latin1.csv", InvalidInput, "not valid UTF-8 text .*and profile the DataFrame"),
        ("broken.parquet", InvalidInput, "cannot be read as Parquet"),
        ([1, 2, 3], InvalidInput, "Cannot profile data of type builtins.list"),
    ],
)
def test_bad_sources_say_what_is_wrong(
    tmp_path: Path, source: object, error: type[Exception], words: str
) -> None:
    (tmp_path / "data.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "latin1.csv").write_bytes("name,town\nJosé,Québec\n".encode("latin-1"))
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    if isinstance(source, str):
        source = tmp_path / source
    with pytest.raises(error, match=words):
        profile_dataset(source, column_types={"name": "categorical", "town": "categorical"})


def test_bad_arguments_say_what_is_wrong() -> None:
    table = pa.table({"x": [1.0, 2.0], "s": ["a", "b"]})
    with pytest.raises(InvalidInput, match="names column 'nope'"):
        profile_dataset(table, column_types={"nope": "numeric"})
    with pytest.raises(InvalidInput, match="not a logical type"):
        profile_dataset(table, column_types={"x": "float"})
    with pytest.raises(InvalidInput, match=r"declared numeric.*cannot be read as double"):
        profile_dataset(table, column_types={"x": "numeric", "s": "numeric"})
    with pytest.raises(InvalidInput, match="declared datetime but holds double"):
        profile_dataset(table, column_types={"x": "datetime", "s": "categorical"})
    with pytest.raises(InvalidInput, match="batch_rows must be a positive integer"):
        profile_dataset(table, batch_rows=0)
    with pytest.raises(NotFound, match="no column 'y'"):
        profile_dataset(table, column_types={"x": "numeric", "s": "categorical"})["y"]
    with pytest.raises(InvalidInput, match="only for numeric and datetime"):
        profile_dataset(table, column_types={"x": "numeric", "s": "categorical"})["s"].quantile(0.5)
