"""Fixtures of the evaluation tests: a small synthetic task, fitted models, a charter."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from evaluation_helpers import FEATURES, charter_document, make_frame, pipeline_model

from mlsteward.charter import Charter


@pytest.fixture(scope="session")
def frame() -> pd.DataFrame:
    return make_frame()


@pytest.fixture(scope="session")
def train_frame() -> pd.DataFrame:
    return make_frame(3000, seed=1)


@pytest.fixture(scope="session")
def model(train_frame: pd.DataFrame) -> Any:
    return pipeline_model().fit(train_frame[FEATURES], train_frame["y"])


@pytest.fixture(scope="session")
def weak_model(train_frame: pd.DataFrame) -> Any:
    """Sees only the region: close to chance."""
    return pipeline_model(("region",)).fit(train_frame[["region"]], train_frame["y"])


@pytest.fixture(scope="session")
def charter() -> Charter:
    return Charter.from_dict(charter_document())
