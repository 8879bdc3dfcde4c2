"""The demo's data steps on a small ACS subset."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.console import Console

import mlsteward as ms
from mlsteward.datasets import load_acs_employment
from mlsteward.demo import STEPS, DemoContext
from mlsteward.demo._charter import step_charter
from mlsteward.demo._data import step_check, step_register, step_split


def test_data_steps_follow_the_charter_in_the_demo() -> None:
    titles = [s.title for s in STEPS]
    assert titles.index("Register the data") > titles.index("Apply the charter")
    assert titles.index("Check the data") < titles.index("Split the training data")


def test_data_steps_on_an_acs_subset(tmp_path: Path) -> None:
    acs = load_acs_employment()
    subset = pd.concat([g.head(1500) for _, g in acs.groupby("year")], ignore_index=True)
    client = ms.connect(f"sqlite:///{tmp_path / 's.db'}", artifacts=str(tmp_path / "a"))
    try:
        ctx = DemoContext(client=client, directory=tmp_path, console=Console(quiet=True))
        ctx.results["acs"] = subset
        client.create_project(ctx.project)
        step_charter(ctx)  # the data checks use its input domain and sensitive attributes
        assert "acs-2015@" in step_register(ctx)
        data = ctx.results["data"]
        train = data["acs-2015"]
        assert train.row_count == 1500 and train.role == "train" and train.target == "employed"
        assert "prediction" not in train.columns and train.column_types["id"] == "id"
        assert "Public domain" in (train.license or "")
        summary = step_check(ctx)
        assert "SEX x RAC1P" in summary and "no blocking failure" in summary
        assert data["report"].read_text().lstrip().lower().startswith("<!doctype html")
        assert all(report.passed for report in data["checks"].values())
        schema = next(r for r in data["checks"]["acs-2016"].results if r.kind == "schema")
        assert schema.status == "pass"
        step_split(ctx)
        assert sum(data[p].row_count for p in ("train", "validation", "test")) == 1500
        assert data["test"].parents == (train.ref,)
    finally:
        client.close()
