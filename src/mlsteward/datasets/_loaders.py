"""Bundled real data, shipped inside the package; no network."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

__all__ = ["data_path", "load_acs_employment", "load_adult", "provenance"]

_FILES = {
    "acs_employment": "acs_employment_ma_2015_2018.parquet",
    "adult": "adult_census_income.parquet",
}


def data_path(name: str) -> Path:
    """Path of a bundled data file (``acs_employment`` or ``adult``)."""
    from mlsteward.core import NotFound

    if name not in _FILES:
        raise NotFound(f"No bundled dataset {name!r}. Bundled datasets: {', '.join(_FILES)}.")
    return Path(str(resources.files("mlsteward.datasets").joinpath("data", _FILES[name])))


def load_acs_employment(years: list[int] | None = None) -> pd.DataFrame:
    """ACS PUMS Massachusetts employment records, 2015-2018 (277,677 rows x 21 columns).

    Target ``employed`` (0/1); time column ``year``; sensitive attributes SEX, RAC1P, AGEP, DIS.
    ``years`` keeps only the given survey years. See :func:`provenance` for source and licence.

    >>> df = load_acs_employment(years=[2015])
    >>> len(df), int(df["year"].min())
    (68785, 2015)
    """
    frame = pd.read_parquet(data_path("acs_employment"))
    if years is not None:
        from mlsteward.core import InvalidInput

        available = sorted(int(y) for y in frame["year"].unique())
        bad = [y for y in years if y not in available]
        if bad:
            raise InvalidInput(
                f"Years {bad} are not in the ACS data; available years: {available}."
            )
        frame = frame[frame["year"].isin(years)].reset_index(drop=True)
    return frame


def load_adult() -> pd.DataFrame:
    """UCI Adult census income (48,842 rows x 16 columns); target ``income``; column
    ``split`` is ``train`` or ``test`` as in the original files."""
    return pd.read_parquet(data_path("adult"))


def provenance() -> str:
    """Provenance and licence text of the bundled data."""
    return (
        resources.files("mlsteward.datasets").joinpath("data", "PROVENANCE.md").read_text("utf-8")
    )
