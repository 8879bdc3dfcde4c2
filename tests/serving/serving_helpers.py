"""Fixtures of the serving tests: a store with ACS models, servers on loopback.

A template store (project ``acs``, four versions of model ``acs``: 1 and 2 good, 3
raising, 4 slow) is built once per test session and copied for each test that needs one,
so that every test starts from the same state in milliseconds. Servers run uvicorn on a
free 127.0.0.1 port, in a thread of the test process (``live_server``) or as a
``steward serve`` subprocess (for the crash test).
"""

from __future__ import annotations

import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import uvicorn

import mlsteward as ms
from mlsteward.registry import ColumnSpec, OutputSpec, Signature
from mlsteward.serving import ServeOptions, ServingRuntime, build_runtime, create_app

sys.path.insert(0, str(Path(__file__).parent))
from serving_fakes import FlippedModel, RaisingModel, SlowModel

PROJECT = "acs"
CATEGORICAL = [
    "SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY",
    "DEAR", "DEYE", "DREM", "SEX", "RAC1P",
]  # fmt: skip
FEATURES = ["AGEP", *CATEGORICAL]


def acs_frame(year: int, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` rows of the bundled ACS data of ``year``: features as JSON-friendly types."""
    from mlsteward.datasets import load_acs_employment

    acs = load_acs_employment()
    part = acs[acs["year"] == year].sample(n=n, random_state=seed).reset_index(drop=True)
    out = pd.DataFrame({"AGEP": part["AGEP"].astype(float)})
    for column in CATEGORICAL:
        out[column] = part[column].astype(str).astype(object)
    out["employed"] = part["employed"].astype(int)
    out["id"] = part["id"].astype(int)
    return out


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = frame[FEATURES].to_dict(orient="records")
    return rows


def _signature(frame: pd.DataFrame) -> Signature:
    inputs = [ColumnSpec("AGEP", "numeric", "float64", nullable=False, min=0.0, max=99.0)]
    for column in CATEGORICAL:
        cats = tuple(sorted(set(frame[column]), key=lambda v: (len(v), v)))
        inputs.append(ColumnSpec(column, "categorical", "object", nullable=False, categories=cats))
    outputs = (
        OutputSpec("prediction", "categorical", (0, 1)),
        OutputSpec("probabilities", "numeric", (0, 1)),
    )
    return Signature(tuple(inputs), outputs, source="test", task="classification")


def _fit(frame: pd.DataFrame, c: float) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    pre = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)], remainder="passthrough"
    )
    model = Pipeline([("pre", pre), ("clf", LogisticRegression(C=c, max_iter=500))])
    return model.fit(frame[FEATURES], frame["employed"])


@dataclass(frozen=True)
class Template:
    directory: Path
    signature: Signature


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The template store (see the module docstring)."""
    directory = tmp_path_factory.mktemp("serving-template")
    train = acs_frame(2015, 6000, seed=1)
    full = acs_frame(2015, 20000, seed=2)
    signature = _signature(full)
    good = _fit(train, 1.0)
    other = _fit(train, 0.3)
    st = ms.connect(f"sqlite:///{directory / 'steward.db'}", artifacts=str(directory / "artifacts"))
    try:
        st.create_project(PROJECT)
        register = st.models.register
        register(
            "acs",
            project=PROJECT,
            model=good,
            signature=signature,
            alias="champion",
            reason="first",
        )
        register(
            "acs",
            project=PROJECT,
            model=other,
            signature=signature,
            alias="challenger",
            reason="second",
        )
        register(
            "acs",
            project=PROJECT,
            model=RaisingModel(good),
            format="pickle",
            trust=True,
            signature=signature,
        )
        register(
            "acs",
            project=PROJECT,
            model=SlowModel(good, 0.12),
            format="pickle",
            trust=True,
            signature=signature,
        )
        register(
            "acs",
            project=PROJECT,
            model=FlippedModel(good),
            format="pickle",
            trust=True,
            signature=signature,
        )
    finally:
        st.close()
    return Template(directory, signature)


@dataclass
class StoreCopy:
    directory: Path
    uri: str
    artifacts: str
    client: ms.Client

    @property
    def root(self) -> Path:
        return self.directory


@pytest.fixture
def acs_store(template: Template, tmp_path: Path) -> Iterator[StoreCopy]:
    """A fresh copy of the template store, with a client on it."""
    directory = tmp_path / "store"
    shutil.copytree(template.directory, directory)
    uri = f"sqlite:///{directory / 'steward.db'}"
    artifacts = str(directory / "artifacts")
    client = ms.connect(uri, artifacts=artifacts)
    try:
        yield StoreCopy(directory, uri, artifacts, client)
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    runtime: ServingRuntime
    http: httpx.Client

    def predict(self, endpoint: str, body: Any, **kwargs: Any) -> httpx.Response:
        return self.http.post(f"/v1/endpoints/{endpoint}/predict", json=body, **kwargs)


FAST = ServeOptions(
    flush_seconds=0.2,
    poll_seconds=0.2,
    check_seconds=0.2,
    fsync=False,
    seed=7,
)


@pytest.fixture
def live_server() -> Iterator[Callable[..., LiveServer]]:
    """Start servers on free loopback ports (in threads); all are stopped at the end."""
    started: list[tuple[uvicorn.Server, threading.Thread, httpx.Client]] = []

    def start(
        store: StoreCopy | None = None,
        *,
        runtime: ServingRuntime | None = None,
        **options: Any,
    ) -> LiveServer:
        if runtime is None:
            assert store is not None
            runtime = build_runtime(
                replace(FAST, **options), uri=store.uri, artifacts=store.artifacts
            )
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20)
        started.append((server, thread, http))
        return LiveServer(f"http://127.0.0.1:{port}", runtime, http)

    yield start
    for server, thread, http in started:
        http.close()
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture(scope="session")
def acs_rows() -> pd.DataFrame:
    """ACS 2016 rows (traffic)."""
    return acs_frame(2016, 3000, seed=3)


def wait_for(condition: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
