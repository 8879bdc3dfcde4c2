"""Fixtures of the data-stage tests: a project on a store, small synthetic frames."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

import mlsteward as ms
from mlsteward.store.metadata import DatasetLineageRow, DatasetVersionRow

PROJECT = "proj"


@pytest.fixture
def st(tmp_path: Path) -> Iterator[ms.Client]:
    """A client on a fresh SQLite store with the project ``proj``."""
    client = ms.connect(
        f"sqlite:///{tmp_path / 'steward.db'}", artifacts=str(tmp_path / "artifacts")
    )
    client.create_project(PROJECT)
    try:
        yield client
    finally:
        client.close()


def _frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n).astype(float)
    sex = rng.choice(["1", "2"], n)
    score = rng.normal(0, 1, n)
    logit = 0.05 * (age - 50) + score
    employed = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64),
            "age": age,
            "sex": sex,
            "score": score,
            "when": pd.date_range("2020-01-01", periods=n, freq="D"),
            "employed": employed,
        }
    )


@pytest.fixture
def make_frame() -> Callable[..., pd.DataFrame]:
    """A small labelled table: id, numeric age/score, categorical sex, timestamp, target."""
    return _frame


def _state(client: ms.Client) -> tuple[int, int, int]:
    """(version rows, lineage rows, audit events): what a failed call must not change."""
    with client.store.reader() as session:
        versions = session.execute(select(func.count()).select_from(DatasetVersionRow))
        edges = session.execute(select(func.count()).select_from(DatasetLineageRow))
        counts = int(versions.scalar_one()), int(edges.scalar_one())
    return (*counts, client.verify_audit().count)


@pytest.fixture
def store_state() -> Callable[[ms.Client], tuple[int, int, int]]:
    return _state
