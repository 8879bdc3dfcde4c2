"""The demo's evaluation step: champion and challenger on 2015 test and 2016, reports named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from mlsteward.datasets import load_acs_employment
from mlsteward.demo import _evaluate as demo_step
from mlsteward.demo._charter import acs_charter_path
from mlsteward.demo._registry import step_registry
from mlsteward.demo._runner import STEPS, DemoContext

NOT_FEATURES = ["employed", "id", "year", "prediction", "predicted_probability"]


def test_the_step_follows_the_registry_in_the_demo() -> None:
    runs = [s.run for s in STEPS]
    assert runs.index(demo_step.step_evaluate) == runs.index(step_registry) + 1


def test_champion_and_challenger_are_evaluated_and_compared(
    sqlite_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    monkeypatch.setattr(demo_step, "DEMO_RESAMPLES", 50)
    st = sqlite_client
    ctx = DemoContext(client=st, directory=tmp_path, console=Console(quiet=True))
    st.create_project(ctx.project)
    st.charters.apply(ctx.project, acs_charter_path())
    acs = load_acs_employment(years=[2015, 2016])
    y2015 = acs[acs["year"] == 2015].sample(4000, random_state=0)
    train, test = y2015.iloc[:2500], y2015.iloc[2500:].drop(columns=NOT_FEATURES[3:])
    batch = acs[acs["year"] == 2016].sample(1500, random_state=0).drop(columns=NOT_FEATURES[3:])
    register = st.datasets.register
    ctx.results["data"] = {
        "test": register(ctx.project, "acs-2015-test", test, role="test", target="employed"),
        "batches": {
            2016: register(ctx.project, "acs-2016", batch, role="batch", target="employed")
        },
    }
    x = train.drop(columns=NOT_FEATURES)
    for alias, model in (
        ("champion", HistGradientBoostingClassifier(max_iter=30, random_state=0)),
        ("challenger", HistGradientBoostingClassifier(max_iter=3, max_depth=2, random_state=0)),
    ):
        st.models.register(
            "employment",
            project=ctx.project,
            model=model.fit(x, train["employed"]),
            input_example=x.head(50),
            alias=alias,
            reason="demo test",
        )
    summary = demo_step.step_evaluate(ctx)
    assert summary.startswith("4 evaluations and 1 comparison recorded")
    reports = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert reports == [
        "comparison-champion-vs-challenger-test-2015.html",
        "evaluation-challenger-acs-2016.html",
        "evaluation-challenger-test-2015.html",
        "evaluation-champion-acs-2016.html",
        "evaluation-champion-test-2015.html",
    ]
    assert all(name in summary for name in reports)
    stored = st.evaluations.list(ctx.project)
    assert sorted(s.kind for s in stored) == ["comparison", *["evaluation"] * 4]
    assert {s.verdict for s in stored} <= {"pass", "fail", "inconclusive"}
    on_2016 = [s for s in stored if s.dataset.startswith("acs-2016")]
    assert len(on_2016) == 2 and all(s.on == "test" for s in on_2016)
    results = ctx.results["evaluation"]
    assert results["comparison"].champion.model.ref == "employment@1"
